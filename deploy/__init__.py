"""deploy: ONNX and TensorRT export and the runtime backends behind one interface."""
