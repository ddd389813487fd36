"""Printable documents of published results: the results table as PDF, an applicant's
certificate as PDF with a QR code to its verification page, and the score distributions
with the passing-grade lines (matplotlib). Rendering only: the numbers come from the
published table. PDF with fpdf2, QR codes with segno; the core fonts cover Latin-1, which
Indonesian names and the table need (other characters are replaced, never dropped
silently: ``_latin1``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import segno
from fpdf import FPDF


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def table_rows(table: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(table)))


def results_pdf(
    title: str,
    table: str,
    sections: Sequence[str],
    footer: str,
) -> bytes:
    """The published table per formation, A4 landscape: pseudonyms, never names (it is a
    public download)."""
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    rows = table_rows(table)
    formations = sorted({r["formation"] for r in rows})
    for formation in formations or [""]:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 8, _latin1(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.cell(0, 7, _latin1(f"Formasi: {formation}"), new_x="LMARGIN", new_y="NEXT")
        headers = ["Rank", "Peserta", *sections, "Total", "Lulus", "Lanjut"]
        widths = [14, 70, *([22] * len(sections)), 24, 18, 18]
        pdf.set_font("Helvetica", "B", 9)
        for h, w in zip(headers, widths, strict=True):
            pdf.cell(w, 6, _latin1(h), border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        for r in (r for r in rows if r["formation"] == formation):
            cells = [
                r["rank"],
                r["person_id"],
                *(r[s] for s in sections),
                r["total"],
                "ya" if r["passed"] == "true" else "tidak",
                "ya" if r["proceeds"] == "true" else "-",
            ]
            for c, w in zip(cells, widths, strict=True):
                pdf.cell(w, 5.5, _latin1(str(c))[:40], border=1)
            pdf.ln()
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 7)
        pdf.multi_cell(0, 4, _latin1(footer))
    return bytes(pdf.output())


def certificate_pdf(
    title: str,
    name: str,
    pseudonym: str,
    row: Mapping[str, str],
    sections: Sequence[str],
    check_url: str,
    footer: str,
) -> bytes:
    """One applicant's certificate with a QR code of its verification page."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 9, _latin1(title), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 12)
    for label, value in [
        ("Nama", name),
        ("Pseudonim", pseudonym),
        ("Formasi", row["formation"]),
        *((s, row[s]) for s in sections),
        ("Total", row["total"]),
        ("Memenuhi nilai ambang batas", "ya" if row["passed"] == "true" else "tidak"),
        ("Peringkat", row["rank"] or "-"),
        ("Lanjut ke tahap berikutnya", "ya" if row["proceeds"] == "true" else "tidak"),
    ]:
        pdf.cell(80, 8, _latin1(label))
        pdf.cell(0, 8, _latin1(str(value)), new_x="LMARGIN", new_y="NEXT")
    qr = segno.make(check_url, error="m")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=6, border=2)
    png.seek(0)
    pdf.ln(6)
    pdf.image(png, x=pdf.l_margin, w=50)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, _latin1(check_url))
    pdf.ln(2)
    pdf.multi_cell(0, 4, _latin1(footer))
    return bytes(pdf.output())


def distribution_svg(
    table: str, sections: Sequence[str], grades: Mapping[str, float | None]
) -> bytes:
    """A histogram of each section's points, with its passing grade as a line."""
    rows = table_rows(table)
    fig, axes = plt.subplots(
        1, len(sections), figsize=(4 * len(sections), 3.2), layout="constrained", squeeze=False
    )
    for ax, section in zip(axes[0], sections, strict=True):
        values = [int(r[section]) for r in rows]
        ax.hist(values, bins=20, color="#0b5394", alpha=0.8)
        grade = grades.get(section)
        if grade is not None:
            ax.axvline(grade, color="#a4000f", lw=2, ls="--", label=f"ambang batas {grade:g}")
            ax.legend(loc="upper left", fontsize=8)
        ax.set_title(section)
        ax.set_xlabel("poin")
        ax.set_ylabel("peserta")
    out = io.BytesIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    return out.getvalue()
