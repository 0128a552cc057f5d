"""Tests of scenefarm_operator.planning and the Gemini double."""
