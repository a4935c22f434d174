# Multi-arch images for amd64 PCs and 64-bit Raspberry Pis (arm64), with Docker Buildx:
#   docker buildx create --use --name inventory          # once: a builder that can cross-build
#   docker run --privileged --rm tonistiigi/binfmt --install arm64   # once, on an amd64 host
#   REGISTRY=ghcr.io/you/ TAG=1.0.0 docker buildx bake --push
# `--push` is needed for a multi-platform result (the local image store holds one platform);
# `docker buildx bake --set '*.platform=linux/arm64' --load` builds one for the local engine.

variable "REGISTRY" {
  default = ""
}

variable "TAG" {
  default = "latest"
}

# hub: the ONNX model comes from the Hugging Face hub; local: from docker/model/.
variable "MODEL_SOURCE" {
  default = "hub"
}

group "default" {
  targets = ["app", "nginx"]
}

target "_multiarch" {
  platforms = ["linux/amd64", "linux/arm64"]
}

target "app" {
  inherits   = ["_multiarch"]
  context    = "."
  dockerfile = "Dockerfile"
  args = {
    MODEL_SOURCE = "${MODEL_SOURCE}"
  }
  tags = ["${REGISTRY}inventory-app:${TAG}"]
}

target "nginx" {
  inherits = ["_multiarch"]
  context  = "docker/nginx"
  tags     = ["${REGISTRY}inventory-nginx:${TAG}"]
}
