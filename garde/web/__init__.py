"""The HTTP face of Garde: DICOMweb (QIDO/WADO/STOW-RS), study pages, the hosted viewer."""
