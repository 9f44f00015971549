"""Total count per gene over all samples (run by Snakemake's script: directive)."""

import csv
from collections import Counter

totals: Counter[str] = Counter()
with open(snakemake.input[0]) as handle:  # noqa: F821 - provided by Snakemake
    for row in csv.DictReader(handle):
        totals[row["gene"]] += int(row["count"])
with open(snakemake.output[0], "w") as out:  # noqa: F821
    out.writelines(f"{gene}\t{total}\n" for gene, total in sorted(totals.items()))
