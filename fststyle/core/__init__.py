"""The core, in plain PyTorch (no Lightning): the TransformerNet, the frozen VGG, the perceptual
loss and its defaults, image tensors, model files and the ONNX export. Modules are imported by
name (`fststyle.core.losses`); this file imports nothing, so torch-free readers such as
`fststyle.core.model_file` stay torch-free."""
