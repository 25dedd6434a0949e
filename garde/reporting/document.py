"""The report's DICOM objects: a Comprehensive SR and an Encapsulated PDF, in the
original study.

The SR is built with highdicom rather than by hand: it validates the content tree
(value types, relationship types, coded concept names) and fills the SR Document
General module (completion, verification, verifying observer, the evidence of the
study's images, the predecessor of an addendum) from the evidence datasets, copying the
patient and study modules as the standard asks. Text SR by hand with pydicom is where
receiving PACS usually find errors. The PDF is made by fpdf2 and wrapped in an
Encapsulated PDF instance by pydicom (highdicom has no such IOD).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import highdicom as hd
from fpdf import FPDF
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import UID, ExplicitVRLittleEndian

if TYPE_CHECKING:
    from collections.abc import Sequence

UTF8 = "ISO_IR 192"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
REPORT_CODE = hd.sr.CodedConcept("18748-4", "LN", "Diagnostic imaging report")
FINDINGS = hd.sr.CodedConcept("121071", "DCM", "Finding")
IMPRESSION = hd.sr.CodedConcept("121073", "DCM", "Impression")
CRITICAL = hd.sr.CodedConcept("RID49482", "RADLEX", "Critical result")
_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MANUFACTURER = "Garde"
_COPIED = (  # patient and study attributes the PDF copies from the study's images
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)


@dataclass(frozen=True, slots=True)
class ReportContent:
    """What the radiologist wrote, and who they are."""

    text: str
    conclusion: str
    critical: bool
    author_id: str
    author_name: str
    number: int  # 1: the report; 2..: an addendum
    at: datetime
    institution: str


def person_name(name: str) -> str:
    """A radiologist's display name as a DICOM PN ("Dr Jean Dupont" -> "Dupont^Jean^^Dr")."""
    words = name.replace("^", " ").split()
    prefix = ""
    if words and words[0].rstrip(".").lower() in {"dr", "pr", "docteur", "professeur"}:
        prefix = words.pop(0)
    if not words:
        return name[:64]
    family, given = words[-1], " ".join(words[:-1])
    return f"{family}^{given}^^{prefix}".rstrip("^")[:64]


def build_sr(
    evidence: Sequence[Dataset],
    content: ReportContent,
    *,
    series_uid: str,
    sop_uid: str,
    predecessor: Dataset | None = None,
) -> Dataset:
    """The report as a Comprehensive SR in the study of ``evidence`` (one image per
    series is enough: their patient and study modules are copied, they are listed as
    evidence). ``predecessor``, the first report's SR, makes this an addendum."""
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=person_name(content.author_name),
            login_name=content.author_id,
            organization_name=content.institution,
        ),
    )
    root = hd.sr.ContainerContentItem(name=REPORT_CODE, template_id="2000")
    items = [*observer]
    items.append(
        hd.sr.TextContentItem(name=FINDINGS, value=content.text, relationship_type="CONTAINS")
    )
    if content.conclusion:
        items.append(
            hd.sr.TextContentItem(
                name=IMPRESSION, value=content.conclusion, relationship_type="CONTAINS"
            )
        )
    if content.critical:
        items.append(
            hd.sr.TextContentItem(
                name=CRITICAL, value="Résultat critique", relationship_type="CONTAINS"
            )
        )
    root.ContentSequence = items  # type: ignore[assignment]  # pydicom takes a list
    sr = hd.sr.ComprehensiveSR(
        evidence=[_complete(ds) for ds in evidence],
        content=root,
        series_instance_uid=series_uid,
        series_number=990 + min(content.number, 9),
        sop_instance_uid=sop_uid,
        instance_number=content.number,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=True,
        is_verified=True,
        institution_name=content.institution,
        verifying_observer_name=person_name(content.author_name),
        verifying_organization=content.institution,
        previous_versions=[predecessor] if predecessor is not None else None,
        record_evidence=True,
    )
    sr.SpecificCharacterSet = UTF8
    sr.SeriesDescription = "Compte rendu" if content.number == 1 else "Addendum"
    _stamp(sr, content.at)
    return sr


def build_pdf(
    evidence: Dataset,
    content: ReportContent,
    *,
    series_uid: str,
    sop_uid: str,
    title: str,
) -> Dataset:
    """The report as an Encapsulated PDF instance in the study of ``evidence``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(ENCAPSULATED_PDF)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = UTF8
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = sop_uid
    for keyword in _COPIED:
        if keyword in evidence:
            setattr(ds, keyword, evidence[keyword].value)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        if keyword not in ds:
            setattr(ds, keyword, "")
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 995 + min(content.number, 4)
    ds.InstanceNumber = content.number
    ds.SeriesDescription = "Compte rendu (PDF)"
    ds.Manufacturer = MANUFACTURER
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = title
    concept = Dataset()
    concept.CodeValue, concept.CodingSchemeDesignator = "18748-4", "LN"
    concept.CodeMeaning = "Diagnostic imaging report"
    ds.ConceptNameCodeSequence = [concept]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    pdf = render_pdf(evidence, content, title)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    _stamp(ds, content.at)
    return ds


def render_pdf(evidence: Dataset, content: ReportContent, title: str) -> bytes:
    """The printed report: hospital-style header, the text, the conclusion, the signature."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    if _FONT.is_file():
        pdf.add_font("body", fname=str(_FONT))
        font, clean = "body", _same
    else:  # pragma: no cover - Debian's fonts-dejavu-core is installed by .ci/run
        font, clean = "helvetica", _latin1
    pdf.set_font(font, size=15)
    pdf.multi_cell(0, 8, clean(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, size=9)
    header = (
        f"Patient : {evidence.get('PatientName', '')}  ·  ID : {evidence.get('PatientID', '')}"
        f"  ·  Accession : {evidence.get('AccessionNumber', '')}\n"
        f"Examen : {evidence.get('StudyDescription', '')}  ·  du {evidence.get('StudyDate', '')}"
    )
    pdf.multi_cell(0, 5, clean(header), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(font, size=11)
    pdf.multi_cell(0, 6, clean(content.text), new_x="LMARGIN", new_y="NEXT")
    if content.conclusion:
        pdf.ln(3)
        pdf.multi_cell(
            0, 6, clean(f"Conclusion : {content.conclusion}"), new_x="LMARGIN", new_y="NEXT"
        )
    if content.critical:
        pdf.ln(2)
        pdf.multi_cell(0, 6, clean("RÉSULTAT CRITIQUE"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(font, size=9)
    signed = f"{content.author_name} — {content.institution} — {content.at:%d/%m/%Y %H:%M} UTC"
    pdf.multi_cell(0, 5, clean(signed), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


_TYPE2 = (  # type 2 attributes highdicom copies: present, maybe empty
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def _complete(evidence: Dataset) -> Dataset:
    """A copy of ``evidence`` with the type 2 attributes it lacks, empty (a sender may
    omit them; the report must still go out)."""
    ds = Dataset()
    ds.update(evidence)
    for keyword in _TYPE2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    return ds


def _stamp(ds: Dataset, at: datetime) -> None:
    moment = at.astimezone(UTC)
    ds.ContentDate = moment.strftime("%Y%m%d")
    ds.ContentTime = moment.strftime("%H%M%S")
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime


def _same(text: str) -> str:
    return text


def _latin1(text: str) -> str:  # pragma: no cover - without a Unicode font only
    return (
        text.replace("œ", "oe")
        .replace("—", "-")
        .replace("·", "-")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )
