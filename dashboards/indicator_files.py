"""indicators.csv and indicators.xlsx for the Sterkzorg analyst (Dutch headers).

Written from the stored, suppressed ``indicators`` table only (via
:func:`omu.dashboards.indicators.read_indicators`): an empty cell is a figure that is not shown.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from omu.dashboards.indicators import FUNNEL_WORDS, KEYS, catalogue
from omu.dashboards.suppression import PRIMARY_MAX, PRIMARY_MIN, ROUNDING_BASE
from omu.file_writing import atomic_path
from omu.screening.profile import Profile

SHEET = "Indicatoren"
HELP_SHEET = "Toelichting"

KEY_HEADERS = {
    "quarter": ("Kwartaal", "Het kwartaal; peildatum is de laatste dag ervan."),
    "level": ("Niveau", "regio (alle praktijken samen), wijk (woonwijk van de patiënt) of praktijk."),
    "area_code": (
        "Code",
        "REGIO, de CBS-wijkcode (OVERIG: buiten de tien wijken of onbekend) of de praktijkcode.",
    ),
    "area_name": ("Gebied", "Naam van de regio, wijk of praktijk."),
}


def columns(profile: Profile) -> list[tuple[str, str, str]]:
    """(wide column, Dutch header, explanation) in file order."""
    out = [(k, *KEY_HEADERS[k]) for k in KEYS]
    for item in catalogue(profile):
        out.append((item.key, item.label, item.explanation))
        if item.interval:
            out.append(
                (
                    f"{item.key}_lower",
                    f"{item.label}: 95%-BI ondergrens",
                    f"Ondergrens van het 95%-interval van '{item.label}'.",
                )
            )
            out.append(
                (
                    f"{item.key}_upper",
                    f"{item.label}: 95%-BI bovengrens",
                    f"Bovengrens van het 95%-interval van '{item.label}'.",
                )
            )
    return out


def for_people(wide: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """The wide frame with Dutch headers, newest quarter first, funnel positions in words."""
    cols = columns(profile)
    frame = wide.with_columns(
        pl.col(c).replace_strict(FUNNEL_WORDS, default=None, return_dtype=pl.String)
        for c in ("funnel_95", "funnel_998")
        if c in wide.columns
    )
    frame = frame.with_columns(pl.col(c).round(2) for c, dtype in frame.schema.items() if dtype == pl.Float64)
    order = pl.col("quarter").rank("dense", descending=True)
    frame = frame.with_row_index("__row__").sort([order, "__row__"]).drop("__row__")
    return frame.select([pl.col(key).alias(header) for key, header, _ in cols])


def suppression_note(profile: Profile) -> str:
    return (
        f"Kleine aantallen zijn afgeschermd voordat iets de database verlaat. Aantallen van {PRIMARY_MIN} tot en "
        f"met {PRIMARY_MAX} personen worden niet getoond; alle andere aantallen zijn afgerond op {ROUNDING_BASE} "
        f"(8 en 9 worden 10, 0 blijft 0), dus een getoond aantal kan tot 2 afwijken van het echte. Waar een "
        "verborgen of afgerond aantal toch uit andere getoonde cijfers terug te rekenen of in te perken zou zijn "
        "(regio, wijken en praktijken samen, onderdelen van een rij, eerdere versies van hetzelfde kwartaal) is ook "
        "een ander aantal verborgen (secundaire onderdrukking); dat is met een rekenprogramma gecontroleerd. "
        "Percentages, betrouwbaarheidsintervallen, cijfers per 1.000 en de trechterplot zijn berekend uit de "
        "afgeronde aantallen, niet uit de exacte; het leeftijdsgestandaardiseerde percentage is berekend uit "
        "aantallen per leeftijdsgroep afgerond op 10, en alleen getoond bij minstens 10 personen boven de drempel. "
        "Bij kleine aantallen wijken deze cijfers daardoor iets af van de exacte. Een cijfer zonder zijn aantallen "
        "wordt niet getoond; een lege cel is een getal dat niet getoond wordt. Wat eenmaal verborgen is, blijft "
        "verborgen als een kwartaal later opnieuw wordt berekend (bijvoorbeeld door later binnengekomen "
        "uitkomsten). Elk kwartaal geldt dezelfde regel."
    )


def write_csv(path: Path, wide: pl.DataFrame, profile: Profile) -> Path:
    """';'-separated UTF-8 with BOM and decimal comma, so Dutch Excel opens it as it should."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        for_people(wide, profile).write_csv(
            temporary, separator=";", include_bom=True, decimal_comma=True, float_precision=2
        )
    return path


def write_xlsx(path: Path, wide: pl.DataFrame, profile: Profile, quarter: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = for_people(wide, profile)
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    sheet.append(frame.columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in frame.iter_rows():
        sheet.append(list(row))
    for index, name in enumerate(frame.columns, start=1):
        width = 12 if index > len(KEYS) else (28 if name == "Gebied" else 11)
        sheet.column_dimensions[get_column_letter(index)].width = width
        fmt = (
            "0.00"
            if frame.schema[name] == pl.Float64
            else "#,##0"
            if frame.schema[name].is_integer()
            else None
        )
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
    sheet.row_dimensions[1].height = 60
    sheet.freeze_panes = "E2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(frame.width)}{frame.height + 1}"

    help_sheet = book.create_sheet(HELP_SHEET)
    help_sheet.append(["Onderwerp", "Toelichting"])
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
    intro = [
        (
            "Dashboard",
            f"Regionale indicatoren Om U voor Sterkzorg, tot en met kwartaal {quarter}; alleen "
            "geaggregeerde cijfers, geen patiëntgegevens.",
        ),
        (
            "Screeningsprofiel",
            f"{profile.name} versie {profile.version}: drempel {profile.threshold} punten; "
            f"kenmerken: {', '.join(c.label for c in profile.scored)}.",
        ),
        ("Kleine aantallen", suppression_note(profile)),
        (
            "Kwartalen",
            "Alleen kwartalen die een praktijk zelf leverde tellen mee. De kwartalen die bij de eerste "
            "levering van een praktijk met terugwerkende kracht zijn berekend (backfill) dienen alleen om "
            "'eerste keer boven de drempel' te kunnen bepalen en staan niet in deze cijfers.",
        ),
        (
            "Methoden",
            "Wilson-scoreinterval (Newcombe 1998) voor percentages; directe standaardisatie naar de "
            "Europese standaardbevolking 2013 met Byar/Dobson-interval (PHE/OHID technical guide); "
            "trechterplot met exacte binomiale grenzen (Spiegelhalter 2005).",
        ),
        ("", ""),
    ]
    for topic, text in intro:
        help_sheet.append([topic, text])
    for _key, header, explanation in columns(profile):
        help_sheet.append([header, explanation])
    help_sheet.column_dimensions["A"].width = 44
    help_sheet.column_dimensions["B"].width = 120
    for row in help_sheet.iter_rows(min_row=2):
        row[0].font = Font(bold=True)
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
    help_sheet.freeze_panes = "A2"
    with atomic_path(path) as temporary:
        book.save(temporary)
    return path
