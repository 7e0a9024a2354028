"""ColorED batch runtime: decode, colorize with onnxruntime, encode. torch-free."""
