"""Local stand-ins for Slack and OpenAI that speak their real protocols on 127.0.0.1."""
