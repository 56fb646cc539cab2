"""slackgpt: talk to an OpenAI model by @-mentioning it in Slack. Run: .venv/bin/python app.py"""

import sys

try:
    from slackgpt.cli import main
except ModuleNotFoundError as missing:  # run by a Python without the project installed
    print(
        f"slackgpt's packages are not installed for this Python ({sys.executable}: no module "
        f"{missing.name!r}).\nInstall them, then run the bot with the virtualenv's Python:\n"
        "  python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e .\n"
        "  .venv/bin/python app.py",
        file=sys.stderr,
    )
    sys.exit(2)

if __name__ == "__main__":
    sys.exit(main())
