"""Training with PyTorch Lightning: the StyleTransfer module, the content data, the callbacks
(sample grids, progress lines, pre-emption) and the LightningCLI behind `fststyle.train`."""
