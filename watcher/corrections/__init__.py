"""Corrections for every DOI: the listed works that no PubMed re-check covers, re-checked against
Crossref's REST API for the notices that update them (retraction, correction, expression of concern)."""
