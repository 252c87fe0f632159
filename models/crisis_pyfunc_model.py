"""MLflow models-from-code entry point of the crisis model: names the class, holds no state."""

import mlflow.models

from jumpup.models.crisis_pyfunc import CrisisPyfunc

mlflow.models.set_model(CrisisPyfunc())
