pytest_plugins = ["tests.fixtures.reliability", "tests.fixtures.s3_process", "tests.fixtures.s3_server", "tests.fixtures.services", "tests.fixtures.live"]
