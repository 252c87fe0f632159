"""MLflow models-from-code entry point: the file ``train`` logs as ``python_model``.

MLflow runs this file to get the model object; it only names the class, which lives in the
installed package and reads its state from the bundle artifact (data only).
"""

import mlflow.models

from jumpup.models.pyfunc import GrowthModelPyfunc

mlflow.models.set_model(GrowthModelPyfunc())
