pytest_plugins = ["tests.fixtures.s3_server", "tests.fixtures.services"]
