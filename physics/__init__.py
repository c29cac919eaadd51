"""Physics of twin: solvers as Warp kernels, the shared simulation loop."""
