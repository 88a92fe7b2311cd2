"""Stage 6, report: number formatting, HTML fragments, figures, and what the notebooks call."""
