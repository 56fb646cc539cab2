"""slackgpt: talk to an OpenAI model by @-mentioning it in Slack. Run: python app.py"""

import sys

from slackgpt.cli import main

if __name__ == "__main__":
    sys.exit(main())
