"""The outreach list as the POH works it: outreach.xlsx, outreach.csv and a printable outreach.html.

All text a practice reads is Dutch. The xlsx is the working file: frozen header, filters, column
widths, drop-downs for the outcome and the referral target, and a second sheet that explains
every column and names the screening profile. `omu outcomes import` reads the same file back.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from omu.outreach.lists import (
    EXCLUSION_LIFT,
    EXCLUSION_REASONS,
    INCLUSION_LABELS,
    MAX_ATTEMPTS,
    OUTCOMES,
    REFERRAL_TARGETS,
    BuiltLists,
)
from omu.screening.profile import Profile

LIST_SHEET = "Belijst"
BASELINE_SHEET = "Startlijst"
HELP_SHEET = "Toelichting"


@dataclass(frozen=True)
class ListColumn:
    key: str
    header: str
    width: int
    explanation: str
    fill_in: bool = False  # a column the POH fills in


COLUMNS: tuple[ListColumn, ...] = (
    ListColumn(
        "rank",
        "Volgorde",
        9,
        "Bel in deze volgorde: 1 eerst (hoogste voorspelde risico, anders hoogste score, dan de oudste).",
    ),
    ListColumn(
        "patient_id",
        "Patiënt (pseudoniem)",
        22,
        "Pseudoniem van de patiënt: zoek de patiënt op in uw "
        "eigen HIS via de pseudonimiseringstabel van de praktijk.",
    ),
    ListColumn(
        "age", "Leeftijd", 9, "Leeftijd in hele jaren op de peildatum (laatste dag van het kwartaal)."
    ),
    ListColumn("sex", "Geslacht", 9, "M = man, V = vrouw, O = onbekend."),
    ListColumn(
        "score",
        "Score",
        7,
        "Aantal punten volgens het screeningsprofiel; de drempel staat op het tabblad Toelichting.",
    ),
    ListColumn(
        "predicted_risk",
        "Voorspeld risico",
        11,
        "Kans op een huisartsenpostcontact of valletsel in het "
        "komende jaar volgens het risicomodel (alleen voor de volgorde; het model haalt niemand van de lijst).",
    ),
    ListColumn("reasons", "Redenen", 42, "De risicokenmerken die bij deze patiënt gelden."),
    ListColumn(
        "next_steps",
        "Mogelijke vervolgstap",
        42,
        "Wat kan helpen, per reden: bijvoorbeeld Welzijn op "
        "Recept, buurtteam, valpreventie of een medicatiebeoordeling door de apotheker. De huisarts houdt "
        "de regie.",
    ),
    ListColumn("notes", "Opmerking", 30, "Extra aandachtspunt dat niet meetelt in de score."),
    ListColumn(
        "evidence",
        "Onderbouwing",
        60,
        "Per reden het gegeven erachter, uit dezelfde berekening als de "
        "score: welk geneesmiddel (naam en ATC-code) en wanneer, welke episode (ICPC en begindatum), welke "
        "bepaling en wanneer, welke contacten; 'geen ...' waar de reden juist het ontbreken is.",
    ),
    ListColumn(
        "history",
        "Eerdere kwartalen",
        40,
        "Eerdere kwartalen van deze patiënt op de lijst van dit "
        "profiel: wanneer op de lijst, en per poging de datum, de uitkomst en de notitie.",
    ),
    ListColumn(
        "inclusion",
        "Op de lijst omdat",
        26,
        "Nieuw boven de drempel; eerder niet bereikt (na 3 pogingen "
        "niet meer); eerder op de lijst zonder teruggemelde uitkomst; of doorgeschoven omdat de lijst vorig "
        "kwartaal vol was.",
    ),
    ListColumn(
        "first_crossed_quarter",
        "Eerste keer boven drempel",
        13,
        "Het kwartaal waarin de patiënt voor het eerst boven de drempel kwam.",
    ),
    ListColumn(
        "earlier_attempts",
        "Eerdere pogingen",
        10,
        "Hoe vaak de patiënt eerder op de lijst stond zonder bereikt te worden.",
    ),
    ListColumn(
        "outcome",
        "Uitkomst",
        16,
        "Vul in (keuzelijst): bereikt, niet_bereikt, afgezien (patiënt wil niet), verwezen, al_in_zorg.",
        fill_in=True,
    ),
    ListColumn(
        "referral_target",
        "Verwezen naar",
        22,
        "Alleen bij uitkomst verwezen (keuzelijst): " + ", ".join(REFERRAL_TARGETS) + ".",
        fill_in=True,
    ),
    ListColumn(
        "outcome_date",
        "Datum contact",
        13,
        "Datum van het gesprek of de laatste poging (dd-mm-jjjj).",
        fill_in=True,
    ),
    ListColumn(
        "note", "Notities", 40, "Vrije tekst voor de praktijk. Zet hier geen namen of BSN.", fill_in=True
    ),
    ListColumn(
        "exclusion",
        "Uitsluiten (huisarts)",
        18,
        "Alleen door of namens de huisarts (keuzelijst): "
        "palliatief, niet_benaderen, bezwaar (bezwaar tegen het gebruik van de gegevens: de patiënt wordt "
        "niet meer gescreend en telt nergens meer mee) of tijdelijk (vul dan Uitsluiten tot in); opgeheven heft een "
        "eerdere uitsluiting op. Een uitgesloten patiënt komt niet op een lijst zolang de uitsluiting geldt. Inlezen: "
        "omu exclusions import outreach.xlsx --by <naam huisarts>",
        fill_in=True,
    ),
    ListColumn(
        "exclusion_until",
        "Uitsluiten tot",
        13,
        "Alleen bij tijdelijk: tot en met welke datum (dd-mm-jjjj).",
        fill_in=True,
    ),
    ListColumn("practice_id", "Praktijk", 9, "Praktijkcode (nodig bij het terugmelden)."),
    ListColumn("quarter", "Kwartaal", 9, "Kwartaal van deze lijst (nodig bij het terugmelden)."),
    ListColumn("profile", "Profiel", 14, "Screeningsprofiel en versie waarmee deze lijst is gemaakt."),
)
HEADER_TO_KEY = {column.header.lower(): column.key for column in COLUMNS} | {c.key: c.key for c in COLUMNS}


def column_header(key: str) -> str:
    return next(column.header for column in COLUMNS if column.key == key)


def _columns(lists: BuiltLists) -> tuple[ListColumn, ...]:
    return tuple(c for c in COLUMNS if c.key != "predicted_risk" or lists.has_risk_model)


def _list_frame(rows: pl.DataFrame, columns: tuple[ListColumn, ...]) -> pl.DataFrame:
    """The rows as the practice sees them: Dutch inclusion labels, empty fill-in columns."""
    frame = rows.with_columns(
        pl.col("inclusion").replace_strict(INCLUSION_LABELS, default=pl.col("inclusion")),
        pl.format("{} v{}", "profile_name", "profile_version").alias("profile"),
        *(pl.lit(None, pl.String).alias(c.key) for c in columns if c.fill_in),
    )
    return frame.select(c.key for c in columns)


def write_xlsx(
    path: Path,
    rows: pl.DataFrame,
    lists: BuiltLists,
    profile: Profile,
    *,
    practice_id: str,
    quarter: str,
    sheet_title: str,
) -> Path:
    columns = _columns(lists)
    frame = _list_frame(rows, columns)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    sheet.append([c.header for c in columns])
    for row in frame.iter_rows():  # writing cells: openpyxl has no bulk API
        sheet.append(list(row))
    last_row = max(frame.height + 1, 2)
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    fill_in_fill = PatternFill("solid", fgColor="FFF6D5")
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = fill_in_fill if column.fill_in else header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        wrap = column.key in ("reasons", "next_steps", "notes", "inclusion", "note", "evidence", "history")
        for row_cells in sheet.iter_rows(min_row=2, max_row=last_row, min_col=index, max_col=index):
            for data_cell in row_cells:
                data_cell.alignment = Alignment(wrap_text=wrap, vertical="top")
                if column.key == "predicted_risk":
                    data_cell.number_format = "0%"
                if column.key in ("outcome_date", "exclusion_until"):
                    data_cell.number_format = "DD-MM-YYYY"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last_row}"
    keys = [c.key for c in columns]
    for key, allowed, prompt in (
        ("outcome", OUTCOMES, "Kies de uitkomst van het contact"),
        ("referral_target", REFERRAL_TARGETS, "Alleen bij 'verwezen': naar wie?"),
        ("exclusion", (*EXCLUSION_REASONS, EXCLUSION_LIFT), "Alleen de huisarts: waarom niet benaderen?"),
    ):
        letter = get_column_letter(keys.index(key) + 1)
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(allowed) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Ongeldige keuze",
            error="Kies een waarde uit de lijst.",
            promptTitle=key,
            prompt=prompt,
        )
        validation.add(f"{letter}2:{letter}{max(last_row, 2) + 200}")
        sheet.add_data_validation(validation)
    date_letter = get_column_letter(keys.index("outcome_date") + 1)
    date_validation = DataValidation(
        type="date",
        operator="greaterThan",
        formula1="DATE(2000,1,1)",
        allow_blank=True,
        showErrorMessage=True,
        error="Vul een datum in (dd-mm-jjjj).",
    )
    date_validation.add(f"{date_letter}2:{date_letter}{max(last_row, 2) + 200}")
    sheet.add_data_validation(date_validation)
    _help_sheet(
        workbook.create_sheet(HELP_SHEET), columns, profile, lists, practice_id=practice_id, quarter=quarter
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _help_sheet(
    sheet, columns, profile: Profile, lists: BuiltLists, *, practice_id: str, quarter: str
) -> None:
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 110
    lines = [
        ("Belijst", f"Praktijk {practice_id}, kwartaal {quarter}"),
        ("Screeningsprofiel", f"{profile.name} versie {profile.version}: {profile.description}"),
        (
            "Drempel",
            "Een patiënt komt op de lijst als alle kenmerken gelden, de eerste keer dat dat gebeurt."
            if profile.rule == "all"
            else f"Een patiënt komt op de lijst bij een score van {profile.threshold} of "
            "meer, de eerste keer dat dat gebeurt.",
        ),
        ("Kenmerken en punten", "; ".join(f"{c.label} ({c.weight})" for c in profile.scored)),
        (
            "Volgorde",
            "Hoogste voorspelde risico eerst (risicomodel)"
            if lists.has_risk_model
            else "Hoogste score eerst, daarna de oudste patiënt",
        ),
        (
            "Niet bereikt",
            f"Wie niet bereikt wordt, komt volgend kwartaal terug, tot {MAX_ATTEMPTS} pogingen.",
        ),
        (
            "Doorgeschoven",
            f"{lists.carried_over} patiënt(en) pasten niet binnen de capaciteit en schuiven door "
            "naar volgend kwartaal."
            if lists.carried_over
            else "Geen: iedereen past op de lijst.",
        ),
        (
            "Uitgesloten",
            f"{lists.excluded} patiënt(en) door de huisarts uitgesloten (palliatief, niet benaderen, "
            "bezwaar of tijdelijk): zij staan op geen enkele lijst zolang dat geldt.",
        ),
        (
            "Terugmelden",
            "Vul Uitkomst (en bij verwezen: Verwezen naar), Datum contact en eventueel Notities in. "
            "De datamanager leest het bestand terug met: omu outcomes import outreach.xlsx",
        ),
        (
            "Privacy",
            "Deze lijst bevat alleen patiënten van deze praktijk, met pseudoniemen. Bewaar hem binnen de "
            "praktijk; zet in Notities geen namen, BSN of andere direct herleidbare gegevens.",
        ),
        ("Gemaakt op", dt.date.today().strftime("%d-%m-%Y")),
        ("", ""),
        ("Kolom", "Uitleg"),
    ] + [(c.header, c.explanation) for c in columns]
    for row in lines:
        sheet.append(list(row))
    for row_cells in sheet.iter_rows(min_row=1, max_row=sheet.max_row):
        row_cells[0].font = Font(bold=True)
        row_cells[1].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"


def write_csv(path: Path, rows: pl.DataFrame, lists: BuiltLists) -> Path:
    """';'-separated UTF-8 with BOM, so Dutch Excel opens it with the right columns and letters."""
    columns = _columns(lists)
    frame = _list_frame(rows, columns).rename({c.key: c.header for c in columns})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, separator=";", include_bom=True, decimal_comma=True, float_precision=3)
    return path


HTML_COLUMNS = (
    "rank",
    "patient_id",
    "age",
    "sex",
    "score",
    "predicted_risk",
    "reasons",
    "evidence",
    "next_steps",
    "notes",
    "inclusion",
    "history",
    "earlier_attempts",
    "outcome",
    "note",
)


def write_html(
    path: Path, rows: pl.DataFrame, lists: BuiltLists, profile: Profile, *, practice_id: str, quarter: str
) -> Path:
    columns = [c for c in _columns(lists) if c.key in HTML_COLUMNS]
    frame = _list_frame(rows, tuple(columns))
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in columns)

    def cell(key: str, value: object) -> str:
        if value is None:
            return '<td class="fill"></td>' if key in ("outcome", "note") else "<td></td>"
        if key == "predicted_risk":
            return f"<td class=num>{float(value):.0%}</td>"
        css = ' class="num"' if key in ("rank", "age", "score", "earlier_attempts") else ""
        return f"<td{css}>{html.escape(str(value)).replace(chr(10), '<br>')}</td>"

    body = (
        "\n".join(
            "<tr>" + "".join(cell(c.key, value) for c, value in zip(columns, row, strict=True)) + "</tr>"
            for row in frame.iter_rows()
        )
        or f'<tr><td colspan="{len(columns)}">Geen patiënten op de lijst dit kwartaal.</td></tr>'
    )
    order = (
        "hoogste voorspelde risico eerst" if lists.has_risk_model else "hoogste score eerst, dan de oudste"
    )
    page = f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<title>Belijst {html.escape(practice_id)} {html.escape(quarter)}</title>
<style>
@page {{ size: A4 landscape; margin: 10mm; }}
body {{ font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9pt; color: #111; margin: 0; }}
h1 {{ font-size: 14pt; margin: 0 0 2mm 0; }}
p.meta {{ margin: 0 0 3mm 0; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.3mm solid #888; padding: 1mm 1.5mm; vertical-align: top; text-align: left; }}
th {{ background: #dde6f0; }}
thead {{ display: table-header-group; }}
tr {{ page-break-inside: avoid; }}
td.num {{ text-align: right; }}
td.fill {{ min-width: 25mm; }}
footer {{ margin-top: 3mm; font-size: 8pt; color: #444; }}
</style>
</head>
<body>
<h1>Belijst praktijk {html.escape(practice_id)} — {html.escape(quarter)}</h1>
<p class="meta">{frame.height} patiënt(en), volgorde: {order}. Screeningsprofiel {html.escape(profile.name)}
versie {profile.version}, {
        "alle kenmerken moeten gelden" if profile.rule == "all" else f"drempel {profile.threshold} punten"
    }. Alleen patiënten van deze praktijk (pseudoniemen).</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<footer>Uitkomsten: bereikt, niet_bereikt, afgezien, verwezen ({html.escape(", ".join(REFERRAL_TARGETS))}),
al_in_zorg. Meld ze terug via outreach.xlsx.
De score is een aanleiding voor een gesprek; de huisarts houdt de regie.</footer>
</body>
</html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_practice_lists(
    folder: Path, lists: BuiltLists, profile: Profile, *, practice_id: str, quarter: str
) -> dict[str, Path]:
    """outreach.xlsx/.csv/.html, and baseline.xlsx on a practice's first quarter."""
    paths = {
        "outreach.xlsx": write_xlsx(
            folder / "outreach.xlsx",
            lists.outreach,
            lists,
            profile,
            practice_id=practice_id,
            quarter=quarter,
            sheet_title=LIST_SHEET,
        ),
        "outreach.csv": write_csv(folder / "outreach.csv", lists.outreach, lists),
        "outreach.html": write_html(
            folder / "outreach.html", lists.outreach, lists, profile, practice_id=practice_id, quarter=quarter
        ),
    }
    if lists.is_first_quarter:
        paths["baseline.xlsx"] = write_xlsx(
            folder / "baseline.xlsx",
            lists.baseline,
            lists,
            profile,
            practice_id=practice_id,
            quarter=quarter,
            sheet_title=BASELINE_SHEET,
        )
    return paths
