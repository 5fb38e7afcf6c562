"""Babel message catalogues: `messages.pot` (extracted) and one
`<lang>/LC_MESSAGES/messages.po` each."""

from pathlib import Path

directory = Path(__file__).parent
