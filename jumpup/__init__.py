"""jumpup: STEP 1 scoring and growth-path pipeline for the Jump-Up (도약) scale-up program."""

import os
import warnings

__version__ = "0.1.0"

# pandera imports pyspark.pandas whenever the optional Spark engine is installed, and pyspark 4.3
# warns at import that it does not fully support pandas 3. jumpup's Spark engine uses Spark SQL and
# pandas UDFs only (never pyspark.pandas), so the warning says nothing about a jumpup run.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning, module="pyspark"
)

# MLflow 3 sends usage telemetry to a remote endpoint and keeps an installation id under
# ~/.config/mlflow. jumpup runs offline and writes only under --out and its configured stores, so
# telemetry is off unless the operator turns it on (MLFLOW_DISABLE_TELEMETRY=false). MLflow reads
# the setting when it is imported, which jumpup's modules do after this package.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
