"""The outreach list as the POH works it: outreach.xlsx, outreach.csv and a printable outreach.html.

All text a practice reads is Dutch. The xlsx is the working file: frozen header, filters, column
widths, drop-downs for the outcome and the referral target, and a second sheet that explains
every column and names the screening profile. `omu outcomes import` reads the same file back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from omu.file_writing import atomic_path, write_text_atomically
from omu.outreach.lists import (
    EXCLUSION_LIFT,
    EXCLUSION_REASONS,
    INCLUSION_LABELS,
    MAX_ATTEMPTS,
    OUTCOMES,
    REFERRAL_TARGETS,
    BuiltLists,
)
from omu.reference import outcome_values
from omu.render import render
from omu.screening.profile import Profile

# the outcome that takes a referral target (verwezen), and the outcomes as the printed list names them
REFERRED = " / ".join(v.code for v in outcome_values() if v.counted_as == "referred")
OUTCOMES_IN_WORDS = ", ".join(
    v.code + (f" ({', '.join(REFERRAL_TARGETS)})" if v.counted_as == "referred" else "")
    for v in outcome_values()
)

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
        f"Nieuw boven de drempel; eerder niet bereikt (na {MAX_ATTEMPTS} pogingen "
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
        "Vul in (keuzelijst): "
        + ", ".join(v.code + (f" ({v.hint})" if v.hint else "") for v in outcome_values())
        + ".",
        fill_in=True,
    ),
    ListColumn(
        "referral_target",
        "Verwezen naar",
        22,
        f"Alleen bij uitkomst {REFERRED} (keuzelijst): " + ", ".join(REFERRAL_TARGETS) + ".",
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
        ("referral_target", REFERRAL_TARGETS, f"Alleen bij '{REFERRED}': naar wie?"),
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
    with atomic_path(path) as temporary:
        workbook.save(temporary)
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
    with atomic_path(path) as temporary:
        frame.write_csv(temporary, separator=";", include_bom=True, decimal_comma=True, float_precision=3)
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


def _html_cell(key: str, value: object) -> dict:
    """One cell of the printable list: its class and its lines of text (a newline becomes <br>)."""
    if value is None:
        return {"css": "fill" if key in ("outcome", "note") else "", "lines": []}
    if key == "predicted_risk":
        return {"css": "num", "lines": [f"{float(value):.0%}"]}  # type: ignore[arg-type]
    css = "num" if key in ("rank", "age", "score", "earlier_attempts") else ""
    return {"css": css, "lines": str(value).split("\n")}


def write_html(
    path: Path, rows: pl.DataFrame, lists: BuiltLists, profile: Profile, *, practice_id: str, quarter: str
) -> Path:
    columns = [c for c in _columns(lists) if c.key in HTML_COLUMNS]
    frame = _list_frame(rows, tuple(columns))
    page = render(
        "omu.outreach",
        "outreach.html.j2",
        practice_id=practice_id,
        quarter=quarter,
        profile=profile,
        patients=frame.height,
        order="hoogste voorspelde risico eerst"
        if lists.has_risk_model
        else "hoogste score eerst, dan de oudste",
        rule="alle kenmerken moeten gelden"
        if profile.rule == "all"
        else f"drempel {profile.threshold} punten",
        headers=[c.header for c in columns],
        rows=[
            [_html_cell(c.key, value) for c, value in zip(columns, row, strict=True)]
            for row in frame.iter_rows()
        ],
        outcomes_in_words=OUTCOMES_IN_WORDS,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, page)
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
