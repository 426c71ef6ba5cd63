"""Export for TF Serving: versioned SavedModels, in-graph GIF decoding, warm-up requests."""

from kavan_tf.export.keras_file import export_keras_file
from kavan_tf.export.saved_model import (
    BatchingParameters,
    export_saved_model,
    list_versions,
    write_batching_parameters,
    write_model_config,
)
from kavan_tf.export.serving_module import (
    DISPLAY_MAX,
    FRAMES_SIGNATURE,
    GIFS_SIGNATURE,
    KavanServingModule,
)
from kavan_tf.export.warmup import (
    rare_branches_gif,
    read_warmup_requests,
    tiny_gif,
    warmup_gifs,
    write_warmup_requests,
)

__all__ = [
    "DISPLAY_MAX",
    "FRAMES_SIGNATURE",
    "GIFS_SIGNATURE",
    "BatchingParameters",
    "KavanServingModule",
    "export_keras_file",
    "export_saved_model",
    "list_versions",
    "rare_branches_gif",
    "read_warmup_requests",
    "tiny_gif",
    "warmup_gifs",
    "write_batching_parameters",
    "write_model_config",
    "write_warmup_requests",
]
