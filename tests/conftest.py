pytest_plugins = ["pytester", "harness"]
