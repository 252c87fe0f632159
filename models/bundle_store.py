"""The model bundle on disk: a directory of data files, never code.

A saved ``GrowthModelBundle`` is a directory::

    manifest.json          format, version and the sha256 of every other file
    bundle.json            settings, feature names, target, master scale, calibrator, metadata
    classifier.txt         the LightGBM model in LightGBM's own text format
    builder/reference.parquet, builder/industry_statistics.parquet   the fitted reference population
    history.parquet        training firm-years with realised outcomes (growth-path peers)
    growth/h<k>/...        the fitted growth-path engine per horizon: peer pool (Parquet),
                           recalibration PIT values (Parquet), pooled quantile models (LightGBM text)

Loading reads each file's bytes once, checks them against the manifest's sha256 and parses them
with data parsers only (``json``, Parquet via pyarrow, ``lightgbm.Booster(model_str=...)``):
nothing in the directory is imported, unpickled or evaluated. Anything else handed over as a
bundle — a pickle, a single file, a directory without a manifest, a manifest naming a file outside
the directory, a hash mismatch — raises ``BundleError`` with one line naming the path. The trust
model is written down in docs/trust_model.md. The fitted feature reference alone (the
``features`` stage's ``--save-reference``) uses the same format with ``kind: feature_reference``.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path, PurePosixPath

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression

from jumpup.features.builder import FeatureBuilder
from jumpup.models.bundle import GrowthModelBundle
from jumpup.models.gbm import GrowthGBM
from jumpup.models.grading import MasterScale
from jumpup.models.growth_engine import GrowthPathModel, HorizonModel
from jumpup.models.growth_peers import PeerIndex, Recalibration
from jumpup.models.training import ProbabilityCalibrator, _RawProbability
from jumpup.settings import FeatureSettings, GrowthPathSettings, ProgramSettings, SizeClassSettings

FORMAT = "jumpup-model-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
KINDS = ("model_bundle", "feature_reference", "growth_engine")


class BundleError(ValueError):
    """A path or URI that is not a loadable bundle; the message is one line naming it."""


class _Writer:
    """Writes files into the bundle directory and records their sha256 for the manifest."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: dict[str, str] = {}
        self.object_columns: dict[str, list[str]] = {}

    def write(self, name: str, data: bytes) -> None:
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.files[name] = hashlib.sha256(data).hexdigest()

    def json(self, name: str, payload: dict) -> None:
        # Key order is kept (not sorted): some mappings are ordered, e.g. the peer-matching weights.
        text = json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
        self.write(name, text.encode("utf-8"))

    def parquet(self, name: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.write(name, buffer.getvalue())
        # Parquet reads text back as pandas' string dtype; plain object columns are restored as such.
        objects = [str(c) for c in frame.columns if frame[c].dtype == object]
        if objects:
            self.object_columns[name] = objects

    def booster(self, name: str, booster: lgb.Booster) -> None:
        self.write(name, booster.model_to_string().encode("utf-8"))

    def finish(self, kind: str) -> None:
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kind": kind,
            "files": dict(sorted(self.files.items())),
            "object_columns": dict(sorted(self.object_columns.items())),
        }
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (self.directory / MANIFEST).write_text(text, encoding="utf-8")


class _Reader:
    """Reads files listed in a bundle's manifest, each checked against its sha256 before parsing."""

    def __init__(self, directory: Path, kind: str):
        self.directory = directory
        self.manifest_path = directory / MANIFEST
        refuse = f"{directory}: not a model bundle directory"
        if directory.is_file():
            raise BundleError(f"{refuse} (a file; pickle files are never loaded)")
        if not directory.is_dir():
            raise BundleError(f"{directory}: no such model bundle directory")
        if not self.manifest_path.is_file():
            raise BundleError(f"{refuse}: {MANIFEST} is missing (pickle files are never loaded)")
        raw = self.manifest_path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{self.manifest_path}: not valid JSON ({exc.msg})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleError(f"{self.manifest_path}: not a {FORMAT} manifest")
        if manifest.get("version") != FORMAT_VERSION:
            raise BundleError(
                f"{self.manifest_path}: format version {manifest.get('version')!r} is not supported "
                f"(this code reads version {FORMAT_VERSION}); retrain or save the bundle again"
            )
        if manifest.get("kind") != kind:
            raise BundleError(f"{self.manifest_path}: holds a {manifest.get('kind')!r}, expected a {kind!r}")
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise BundleError(f"{self.manifest_path}: the file list is missing")
        self.files: dict[str, str] = {}
        for name, digest in files.items():
            parts = PurePosixPath(str(name)).parts
            if not parts or PurePosixPath(str(name)).is_absolute() or any(p in ("..", ".", "") for p in parts):
                raise BundleError(f"{self.manifest_path}: file name {name!r} points outside the bundle")
            self.files[str(name)] = str(digest)
        objects = manifest.get("object_columns", {})
        self.object_columns = (
            {str(k): [str(c) for c in v] for k, v in objects.items()} if isinstance(objects, dict) else {}
        )

    def has(self, name: str) -> bool:
        return name in self.files

    def bytes(self, name: str) -> bytes:
        if name not in self.files:
            raise BundleError(f"{self.manifest_path}: {name} is not listed in the manifest")
        path = self.directory / name
        if path.is_symlink() or not path.is_file():
            raise BundleError(f"{path}: listed in the manifest but missing (or not a regular file)")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.files[name]:
            raise BundleError(f"{path}: sha256 does not match the manifest; the bundle was changed or torn")
        return data

    def json(self, name: str) -> dict:
        try:
            return json.loads(self.bytes(name).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{self.directory / name}: not valid JSON ({exc})") from None

    def parquet(self, name: str) -> pd.DataFrame:
        frame = pd.read_parquet(io.BytesIO(self.bytes(name)))
        for column in self.object_columns.get(name, []):
            if column in frame:
                frame[column] = frame[column].astype(object)
        return frame

    def booster(self, name: str) -> lgb.Booster:
        return lgb.Booster(model_str=self.bytes(name).decode("utf-8"))


def is_bundle_dir(path: Path) -> bool:
    """Whether ``path`` is a directory with a bundle manifest (its content is checked on load)."""
    return Path(path).is_dir() and (Path(path) / MANIFEST).is_file()


# --- the parts -------------------------------------------------------------------------------


def _settings_state(builder: FeatureBuilder) -> dict:
    features, sizes, program = builder._settings()
    return {
        "feature_settings": features.model_dump(mode="json"),
        "size_settings": sizes.model_dump(mode="json"),
        "program_settings": program.model_dump(mode="json"),
    }


def _write_builder(writer: _Writer, builder: FeatureBuilder, prefix: str = "builder/") -> dict:
    writer.parquet(f"{prefix}reference.parquet", builder.reference_)
    writer.parquet(f"{prefix}industry_statistics.parquet", builder.industry_statistics_)
    return _settings_state(builder)


def _read_builder(reader: _Reader, state: dict, prefix: str = "builder/") -> FeatureBuilder:
    return FeatureBuilder.from_reference(
        reader.parquet(f"{prefix}reference.parquet"),
        reader.parquet(f"{prefix}industry_statistics.parquet"),
        FeatureSettings.model_validate(state["feature_settings"]),
        SizeClassSettings.model_validate(state["size_settings"]),
        ProgramSettings.model_validate(state["program_settings"]),
    )


def _map_state(calibrator) -> dict:
    """A fitted isotonic or sigmoid calibration map as numbers."""
    if isinstance(calibrator, IsotonicRegression):
        return {
            "kind": "isotonic",
            "params": calibrator.get_params(),
            "X_thresholds_": calibrator.X_thresholds_.tolist(),
            "y_thresholds_": calibrator.y_thresholds_.tolist(),
            "X_min_": float(calibrator.X_min_),
            "X_max_": float(calibrator.X_max_),
            "increasing_": bool(calibrator.increasing_),
        }
    if isinstance(calibrator, _SigmoidCalibration):
        return {"kind": "sigmoid", "a_": float(calibrator.a_), "b_": float(calibrator.b_)}
    raise TypeError(f"cannot store a calibration map of type {type(calibrator).__name__}")


def _map_from(state: dict):
    if state["kind"] == "isotonic":
        calibrator = IsotonicRegression(**state["params"])
        # scikit-learn's own restore hook: sets the fitted arrays and rebuilds the interpolation.
        calibrator.__setstate__(
            {
                **calibrator.__dict__,
                "_sklearn_version": sklearn.__version__,
                "X_thresholds_": np.asarray(state["X_thresholds_"], dtype="float64"),
                "y_thresholds_": np.asarray(state["y_thresholds_"], dtype="float64"),
                "X_min_": float(state["X_min_"]),
                "X_max_": float(state["X_max_"]),
                "increasing_": bool(state["increasing_"]),
            }
        )
        return calibrator
    if state["kind"] == "sigmoid":
        calibrator = _SigmoidCalibration()
        calibrator.a_, calibrator.b_ = float(state["a_"]), float(state["b_"])
        return calibrator
    raise BundleError(f"unknown calibration map {state['kind']!r}")


def _calibrator_state(calibrator) -> dict:
    """The bundle's calibrator: a ``ProbabilityCalibrator`` (one frozen-estimator calibration map of
    ``CalibratedClassifierCV``) or, from older code, a bare isotonic or sigmoid map."""
    if isinstance(calibrator, ProbabilityCalibrator):
        fitted = calibrator.calibrated_.calibrated_classifiers_
        if len(fitted) != 1 or len(fitted[0].calibrators) != 1:
            raise TypeError("cannot store a calibrator with more than one calibration map")
        return {
            "kind": "probability_calibrator",
            "method": calibrator.method,
            "map": _map_state(fitted[0].calibrators[0]),
        }
    return _map_state(calibrator)


def _calibrator_from(state: dict):
    if state["kind"] != "probability_calibrator":
        return _map_from(state)
    # Rebuild the fitted CalibratedClassifierCV around its one map, so prediction runs the same code.
    method, classes = str(state["method"]), np.array([0, 1])
    frozen = FrozenEstimator(_RawProbability().fit(np.zeros((1, 1))))
    fitted = CalibratedClassifierCV(frozen, method=method)
    fitted.calibrated_classifiers_ = [
        _CalibratedClassifier(frozen, [_map_from(state["map"])], classes=classes, method=method)
    ]
    fitted.classes_ = classes
    calibrator = ProbabilityCalibrator(method)
    calibrator.calibrated_ = fitted
    return calibrator


def _quantile_name(q: float) -> str:
    return f"{round(q * 1000):04d}"


def _write_growth(writer: _Writer, model: GrowthPathModel) -> dict:
    horizons = []
    for k, h in sorted(model.horizons_.items()):
        prefix = f"growth/h{k}/"
        index_state, pool = h.index.to_data()
        writer.parquet(f"{prefix}peer_pool.parquet", pool)
        writer.parquet(f"{prefix}pit.parquet", pd.DataFrame({"pit": np.asarray(h.recalibration.pit, dtype="float64")}))
        pooled = {}
        for q, booster in h.pooled.items():
            name = f"{prefix}pooled_q{_quantile_name(q)}.txt"
            writer.booster(name, booster)
            pooled[name] = float(q)
        horizons.append(
            {
                "horizon": int(h.horizon),
                "origin": int(h.origin),
                "quantiles": [float(q) for q in h.quantiles],
                "index": index_state,
                "pooled": pooled,
                "features": list(h.features),
                "widths": [[float(lo), float(hi), float(w)] for (lo, hi), w in h.widths.items()],
                "auto_method": h.auto_method,
                "high_growth_rate": float(h.high_growth_rate),
                "shrinkage": float(h.shrinkage),
                "reference": [float(v) for v in h.reference],
                "files": {"peer_pool": f"{prefix}peer_pool.parquet", "pit": f"{prefix}pit.parquet"},
            }
        )
    return {
        "settings": model.settings.model_dump(mode="json"),
        "seed": int(model.seed),
        "as_of": int(model.as_of_),
        "history_last_year": int(model.history_last_year_),
        "horizons": horizons,
    }


def _read_growth(reader: _Reader, state: dict) -> GrowthPathModel:
    horizons = {}
    for h in state["horizons"]:
        pool = reader.parquet(h["files"]["peer_pool"])
        pit = reader.parquet(h["files"]["pit"])["pit"].to_numpy(dtype="float64")
        pooled = {float(q): reader.booster(name) for name, q in h["pooled"].items()}
        horizons[int(h["horizon"])] = HorizonModel(
            horizon=int(h["horizon"]),
            origin=int(h["origin"]),
            quantiles=tuple(float(q) for q in h["quantiles"]),
            index=PeerIndex.from_data(h["index"], pool),
            recalibration=Recalibration(pit),
            pooled={q: pooled[q] for q in (float(q) for q in h["quantiles"]) if q in pooled},
            features=list(h["features"]),
            widths={(float(lo), float(hi)): float(w) for lo, hi, w in h["widths"]},
            auto_method=str(h["auto_method"]),
            high_growth_rate=float(h["high_growth_rate"]),
            shrinkage=float(h.get("shrinkage", 1.0)),
            reference=np.asarray(h.get("reference", []), dtype="float64"),
        )
    return GrowthPathModel.from_fitted(
        GrowthPathSettings.model_validate(state["settings"]),
        int(state["seed"]),
        horizons,
        int(state["as_of"]),
        int(state["history_last_year"]),
    )


# --- bundle and feature reference -----------------------------------------------------------


def _prepare(directory: Path) -> Path:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise BundleError(f"{directory}: exists and is not a directory; a bundle is saved as a directory")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)  # a torn save never looks complete
    return directory


def save_bundle(bundle: GrowthModelBundle, directory: Path) -> Path:
    """Write ``bundle`` as a bundle directory (see the module docstring); returns the directory."""
    directory = _prepare(directory)
    writer = _Writer(directory)
    classifier = bundle.classifier
    writer.booster("classifier.txt", classifier.booster_)
    state = {
        "builder": _write_builder(writer, bundle.builder),
        "classifier": {
            "params": classifier.get_params(),
            "feature_names_in": [str(n) for n in classifier.feature_names_in_],
            "model": "classifier.txt",
        },
        "calibrator": _calibrator_state(bundle.calibrator),
        "scale": {
            "labels": list(bundle.scale.labels),
            "cutpoints": [float(c) for c in bundle.scale.cutpoints],
            "base_points": float(bundle.scale.base_points),
            "base_odds": float(bundle.scale.base_odds),
            "pdo": float(bundle.scale.pdo),
            "reference_grade": bundle.scale.reference_grade,
        },
        "feature_names": list(bundle.feature_names),
        "target": bundle.target,
        "top_k": int(bundle.top_k),
        "metadata": bundle.metadata,
        "history": None,
        "growth_model": None,
    }
    if bundle.history is not None:
        writer.parquet("history.parquet", bundle.history)
        state["history"] = "history.parquet"
    if bundle.growth_model is not None:
        state["growth_model"] = _write_growth(writer, bundle.growth_model)
    writer.json("bundle.json", state)
    writer.finish("model_bundle")
    return directory


def load_bundle_dir(directory: Path) -> GrowthModelBundle:
    """Read a bundle directory written by ``save_bundle``; raises ``BundleError`` for anything else."""
    reader = _Reader(Path(directory), "model_bundle")
    try:
        state = reader.json("bundle.json")
        c = state["classifier"]
        classifier = GrowthGBM.from_booster(c["params"], c["feature_names_in"], reader.booster(c["model"]))
        s = state["scale"]
        scale = MasterScale(
            tuple(s["labels"]), tuple(s["cutpoints"]), s["base_points"], s["base_odds"], s["pdo"], s["reference_grade"]
        )
        bundle = GrowthModelBundle(
            builder=_read_builder(reader, state["builder"]),
            classifier=classifier,
            calibrator=_calibrator_from(state["calibrator"]),
            scale=scale,
            feature_names=list(state["feature_names"]),
            target=state["target"],
            top_k=int(state["top_k"]),
            metadata=state["metadata"],
            history=reader.parquet(state["history"]) if state.get("history") else None,
            growth_model=_read_growth(reader, state["growth_model"]) if state.get("growth_model") else None,
        )
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError, OSError) as exc:
        raise BundleError(f"{directory}: the bundle's content cannot be read ({type(exc).__name__}: {exc})") from None
    return bundle


def bundle_sha256(directory: Path) -> str:
    """sha256 of the bundle's manifest, which names the sha256 of every file: the bundle's identity."""
    return hashlib.sha256((Path(directory) / MANIFEST).read_bytes()).hexdigest()


def save_feature_reference(builder: FeatureBuilder, directory: Path) -> Path:
    """The fitted FeatureBuilder alone (reference population and settings) as a bundle-format directory."""
    directory = _prepare(directory)
    writer = _Writer(directory)
    writer.json("builder.json", _write_builder(writer, builder, prefix=""))
    writer.finish("feature_reference")
    return directory


def load_feature_reference(directory: Path) -> FeatureBuilder:
    """Read a directory written by ``save_feature_reference``; raises ``BundleError`` for anything else."""
    reader = _Reader(Path(directory), "feature_reference")
    try:
        return _read_builder(reader, reader.json("builder.json"), prefix="")
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise BundleError(f"{directory}: the feature reference cannot be read ({type(exc).__name__}: {exc})") from None


def save_growth_engine(model: GrowthPathModel, directory: Path) -> Path:
    """A fitted growth-path engine alone, in the bundle format (``kind: growth_engine``)."""
    directory = _prepare(directory)
    writer = _Writer(directory)
    writer.json("growth.json", _write_growth(writer, model))
    writer.finish("growth_engine")
    return directory


def load_growth_engine(directory: Path) -> GrowthPathModel:
    """Read a directory written by ``save_growth_engine``; raises ``BundleError`` for anything else."""
    reader = _Reader(Path(directory), "growth_engine")
    try:
        return _read_growth(reader, reader.json("growth.json"))
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError, OSError) as exc:
        raise BundleError(f"{directory}: the growth engine cannot be read ({type(exc).__name__}: {exc})") from None
