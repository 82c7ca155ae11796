"""Synthetic HIS deliveries for Utrecht practices, with a hidden ground-truth outcome (docs/synthetic-data.md)."""

from omu.synthetic.dialects import VENDOR_DIALECTS, Dialect
from omu.synthetic.generator import GenerationSummary, generate
from omu.synthetic.loop import OutreachLoop
from omu.synthetic.writer import write_delivery

__all__ = ["VENDOR_DIALECTS", "Dialect", "GenerationSummary", "OutreachLoop", "generate", "write_delivery"]
