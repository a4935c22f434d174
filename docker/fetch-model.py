"""Build step: put the ONNX embedding model where the app's model cache looks for it.

--source local  copies a folder holding model.onnx and tokenizer.json (an export made with
                `inventory model export-onnx`);
--source hub    downloads the ONNX export published on the Hugging Face hub.
Either way the model is then loaded once with HF_HUB_OFFLINE=1, so a bad model fails the build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from inventory.embeddings.onnx import OnnxEmbedder
from inventory.embeddings.resolve import (
    ONNX_FILE,
    ONNX_META,
    find_onnx,
    model_key,
    onnx_export_dir,
)
from inventory.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", choices=["hub", "local"], required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--local-dir", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--constraints", required=True)
    args = parser.parse_args()

    settings = replace(Settings(), embedding_model=args.model, transformers_cache=args.cache)
    target = onnx_export_dir(settings)
    if args.source == "local":
        if not (args.local_dir / ONNX_FILE).is_file():
            sys.exit(
                f"MODEL_SOURCE=local: no {ONNX_FILE} in docker/model/ (see docker/model/README.md)"
            )
        target.mkdir(parents=True)
        for name in (ONNX_FILE, "tokenizer.json", ONNX_META):
            if (args.local_dir / name).is_file():
                shutil.copy(args.local_dir / name, target / name)
    else:
        # huggingface_hub only for this step: it goes to a throw-away folder, not the venv.
        hub = tempfile.mkdtemp(prefix="hub-")
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--target", hub]
        pip += ["--constraint", args.constraints, "huggingface_hub"]
        subprocess.run(pip, check=True)  # noqa: S603 (fixed arguments)
        sys.path.insert(0, hub)
    os.environ["HF_HUB_OFFLINE"] = "0" if args.source == "hub" else "1"
    directory = find_onnx(settings)
    os.environ["HF_HUB_OFFLINE"] = "1"
    embedder = OnnxEmbedder.from_directory(find_onnx(settings), model=model_key(settings))
    vector = embedder.embed(["where is the power drill?"])
    print(f"model {model_key(settings)} in {directory}: dimension {vector.shape[1]}")


if __name__ == "__main__":
    main()
