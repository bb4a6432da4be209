"""A Triton python-backend model that runs the ONNX graph beside it (model.onnx) with onnxruntime on the CPU.

The integration tests serve a generated model repository with it: the bundled tritonserver has no onnxruntime
backend, so each config.pbtxt names this backend instead and everything else in it is checked by Triton itself.
"""
import os

import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        options = onnxruntime.SessionOptions()
        # several servers share the test machine; one thread per graph keeps them from starving each other
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        graph = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.inputs = [tensor.name for tensor in self.session.get_inputs()]
        self.outputs = [tensor.name for tensor in self.session.get_outputs()]

    def execute(self, requests):
        responses = []
        for request in requests:
            feeds = {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            results = self.session.run(self.outputs, feeds)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor(n, r) for n, r in zip(self.outputs, results)]))
        return responses
