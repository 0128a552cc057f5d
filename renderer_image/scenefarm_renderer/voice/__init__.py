"""Narration: speech per sentence (speech.py), subtitles (subtitles.py), the voiced video (mixing.py)
and the step the combine runs (voiceover.py)."""
