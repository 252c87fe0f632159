"""jumpup: STEP 1 scoring and growth-path pipeline for the Jump-Up (도약) scale-up program."""

import warnings

__version__ = "0.1.0"

# pandera imports pyspark.pandas whenever the optional Spark engine is installed, and pyspark 4.3
# warns at import that it does not fully support pandas 3. jumpup's Spark engine uses Spark SQL and
# pandas UDFs only (never pyspark.pandas), so the warning says nothing about a jumpup run.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning, module="pyspark"
)
