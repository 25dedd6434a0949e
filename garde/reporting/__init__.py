"""The report returns to the hospital (SR, Encapsulated PDF, HL7 ORU^R01, through the
outbox), and priors come to the reader (C-FIND, C-MOVE from the hospital's PACS)."""
