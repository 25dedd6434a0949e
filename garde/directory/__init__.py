"""The national directory of health professionals (RPPS), as Garde reads its extract.

Radiologists are named in config and rosters by a local id or by their RPPS number; an
import of the public extract (`extract.read_extract`) gives them their display names.
"""
