"""`python -m user_service`: serve on PORT (8080) with the settings in the environment."""

import sys

from service_kit import serve

from .main import SERVICE, Settings, create_app

if __name__ == "__main__":
    sys.exit(serve(SERVICE, Settings.from_env, create_app))
