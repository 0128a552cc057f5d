"""Speaking one sentence: the Offline engine (espeak-ng) and Gemini's speech generation, and a
cache in the artifact store keyed by text, voice, language, speed, engine and engine version.

Failures: an engine that is missing or breaks is an `EnvironmentProblem` (exit class 20, never
the scene's code); Gemini answering 429/5xx or not at all is retried with the contract's backoff,
then either falls back to Offline (when the request allows it) or ends as a `TransientProblem`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from scenefarm_contract.backoff import Backoff
from scenefarm_contract.narration import (
    GEMINI,
    GEMINI_KEY_ENV,
    GEMINI_SECRET,
    GEMINI_SECRET_KEY,
    GEMINI_URL_ENV,
    OFFLINE,
    Narration,
)
from scenefarm_renderer.storage.store import ArtifactStore

from ..errors import EnvironmentProblem, TransientProblem

ESPEAK = "espeak-ng"
ESPEAK_WORDS_PER_MINUTE = 165
GEMINI_TTS_MODEL = "gemini-2.5-flash-preview-tts"
GEMINI_DEFAULT_VOICE = "Kore"
GEMINI_OUTAGES = Backoff(base=2.0, cap=16.0, tries=4)
CACHE_PREFIX = "narration-"

Samples = npt.NDArray[np.int16]


@dataclasses.dataclass(frozen=True)
class Clip:
    """Mono 16-bit speech."""

    samples: Samples
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def to_wav(self) -> bytes:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(self.samples.astype("<i2").tobytes())
        return buffer.getvalue()

    @classmethod
    def from_wav(cls, data: bytes, source: str) -> Clip:
        try:
            with wave.open(io.BytesIO(data), "rb") as src:
                if src.getsampwidth() != 2:
                    raise EnvironmentProblem(f"{source}: {8 * src.getsampwidth()}-bit audio, expected 16-bit")
                raw = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2")
                channels, rate = src.getnchannels(), src.getframerate()
        except (wave.Error, EOFError) as exc:
            raise EnvironmentProblem(f"{source}: not a WAV file: {exc}") from exc
        mono = raw.reshape(-1, channels).mean(axis=1).astype(np.int16) if channels > 1 else raw
        return cls(np.asarray(mono, dtype=np.int16), rate)


class SpeechOutage(TransientProblem):
    """The speech service is busy or unreachable: worth another try later (class 30 if it escapes)."""


class Engine(Protocol):
    name: str

    def version(self) -> str: ...

    def speak(self, text: str) -> Clip: ...


class Espeak:
    """Debian's espeak-ng: no network, no downloaded model; the same text gives the same samples."""

    name = "espeak-ng"

    def __init__(self, narration: Narration) -> None:
        self.voice = narration.voice or narration.language or "en"
        self.words_per_minute = round(ESPEAK_WORDS_PER_MINUTE * narration.speed)
        self._version = ""

    def _exe(self) -> str:
        exe = shutil.which(ESPEAK)
        if exe is None:
            raise EnvironmentProblem(
                "Offline narration needs espeak-ng, which this renderer image lacks: install the Debian "
                "package espeak-ng (the renderer image and `make install` do), or set spec.narration.mode Off"
            )
        return exe

    def version(self) -> str:
        """The engine's version; checks the voice first (espeak-ng speaks an unknown one silently
        in its default voice)."""
        if not self._version:
            self._check_voice()
            done = self._run([self._exe(), "--version"], "")
            self._version = done.stdout.decode(errors="replace").strip().split("  Data at")[0]
        return self._version

    def _check_voice(self) -> None:
        known = set()
        listing = self._run([self._exe(), "--voices"], "").stdout.decode(errors="replace")
        for row in listing.splitlines()[1:]:
            fields = row.split()
            if len(fields) >= 5:
                known |= {
                    fields[1].lower(),
                    fields[3].lower(),
                    fields[4].lower(),
                    fields[4].rsplit("/", 1)[-1].lower(),
                }
        if self.voice.split("+")[0].lower() not in known:
            raise EnvironmentProblem(
                f"espeak-ng has no voice {self.voice!r}: choose a voice or language `espeak-ng --voices` "
                "lists (spec.narration.voice / language)"
            )

    def speak(self, text: str) -> Clip:
        with tempfile.TemporaryDirectory(prefix="scenefarm-espeak-") as tmp:
            wav = Path(tmp) / "line.wav"
            argv = [
                self._exe(),
                "-v",
                self.voice,
                "-s",
                str(self.words_per_minute),
                "-w",
                str(wav),
                "--stdin",
            ]
            self._run(argv, text)
            return Clip.from_wav(wav.read_bytes(), f"espeak-ng voice {self.voice!r}")

    def _run(self, argv: list[str], text: str) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(argv, input=text.encode(), capture_output=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EnvironmentProblem(f"espeak-ng could not run: {exc}") from exc
        stderr = done.stderr.decode(errors="replace").strip()
        if done.returncode != 0 or "not found" in stderr.lower():
            raise EnvironmentProblem(
                f"espeak-ng failed (exit {done.returncode}) for voice {self.voice!r}: {stderr[-400:]}; "
                "choose a voice `espeak-ng --voices` lists (spec.narration.voice / language)"
            )
        return done


class GeminiSpeech:
    """Gemini's speech generation (`response_modalities=["AUDIO"]`): 24 kHz 16-bit PCM."""

    name = "gemini"

    def __init__(self, narration: Narration, *, api_key: str = "", base_url: str = "") -> None:
        self.voice = narration.voice or GEMINI_DEFAULT_VOICE
        self.language = narration.language
        self.api_key = api_key or os.environ.get(GEMINI_KEY_ENV, "")
        self.base_url = base_url or os.environ.get(GEMINI_URL_ENV, "")
        self.model = GEMINI_TTS_MODEL

    def version(self) -> str:
        return self.model

    def speak(self, text: str) -> Clip:
        from google import genai
        from google.genai import errors as genai_errors
        from google.genai import types

        if not self.api_key:
            raise SpeechOutage(f"no Gemini API key in ${GEMINI_KEY_ENV} of the combine Pod")
        http = types.HttpOptions(base_url=self.base_url or None, timeout=60_000)
        client = genai.Client(api_key=self.api_key, http_options=http)
        voice = types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=self.voice))
        config = types.GenerateContentConfig(
            response_modalities=["AUDIO"],
            speech_config=types.SpeechConfig(voice_config=voice, language_code=self.language or None),
        )
        try:
            response = client.models.generate_content(model=self.model, contents=text, config=config)
        except genai_errors.APIError as exc:
            detail = f"Gemini speech answered {exc.code} {exc.status or ''}: {exc.message or ''}".strip()
            if exc.code == 429 or exc.code >= 500:
                raise SpeechOutage(detail) from exc
            raise EnvironmentProblem(f"{detail} (model {self.model}, voice {self.voice!r})") from exc
        except OSError as exc:
            raise SpeechOutage(f"cannot reach Gemini speech: {exc!r}") from exc
        return _pcm_of(response)


def _pcm_of(response: object) -> Clip:
    """The inline `audio/L16;rate=N` (or WAV) part of a speech answer; malformed -> class 20."""
    parts = []
    for candidate in getattr(response, "candidates", None) or []:
        content = getattr(candidate, "content", None)
        parts += list(getattr(content, "parts", None) or [])
    blobs = [p.inline_data for p in parts if getattr(p, "inline_data", None) is not None]
    if not blobs or not blobs[0].data:
        raise EnvironmentProblem("Gemini speech answered without audio (no inline audio part)")
    mime, data = (blobs[0].mime_type or "").lower(), bytes(blobs[0].data)
    if "wav" in mime:
        return Clip.from_wav(data, "Gemini speech")
    rate = re.search(r"rate=(\d+)", mime)
    if not mime.startswith("audio/l16") or rate is None or len(data) % 2:
        raise EnvironmentProblem(
            f"Gemini speech answered malformed audio ({mime or 'no type'}, {len(data)} bytes)"
        )
    return Clip(np.frombuffer(data, dtype="<i2").astype(np.int16), int(rate.group(1)))


@dataclasses.dataclass
class Voice:
    """Speaks sentences through the cache; counts what it synthesised (the cache's test)."""

    store: ArtifactStore
    engine: Engine
    fallback: Engine | None = None
    sleep: Callable[[float], None] = time.sleep
    synthesised: int = 0
    keys: set[str] = dataclasses.field(default_factory=set)  # cache keys of what was said
    notes: list[str] = dataclasses.field(default_factory=list)

    def cache_key(self, engine: Engine, text: str) -> str:
        voice, language = getattr(engine, "voice", ""), getattr(engine, "language", "")
        identity = [text, engine.name, engine.version(), voice, language, _speed(engine)]
        digest = hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()
        return f"{CACHE_PREFIX}{digest[:40]}.wav"

    def say(self, text: str) -> Clip:
        key = self.cache_key(self.engine, text)
        self.keys.add(key)
        cached = self._cached(key)
        if cached is not None:
            return cached
        try:
            clip = self._with_retries(text)
        except SpeechOutage as exc:
            if self.fallback is None:
                raise TransientProblem(
                    f"narration: {exc} (after retries); the combine will be retried"
                ) from exc
            self.notes.append(f"Gemini speech unavailable ({exc}); spoken Offline instead")
            print(f"narration: {self.notes[-1]}", file=sys.stderr)
            self.engine, self.fallback = self.fallback, None
            return self.say(text)
        self._store(key, clip)
        return clip

    def _with_retries(self, text: str) -> Clip:
        used = 0
        while True:
            try:
                clip = self.engine.speak(text)
                self.synthesised += 1
                return clip
            except SpeechOutage:
                if GEMINI_OUTAGES.exhausted(used):
                    raise
                self.sleep(GEMINI_OUTAGES.delay(used))
                used += 1

    def _cached(self, key: str) -> Clip | None:
        if not self.store.exists(key):
            return None
        with tempfile.TemporaryDirectory(prefix="scenefarm-voice-") as tmp:
            local = Path(tmp) / "cached.wav"
            self.store.get(key, local)
            return Clip.from_wav(local.read_bytes(), key)

    def _store(self, key: str, clip: Clip) -> None:
        with tempfile.TemporaryDirectory(prefix="scenefarm-voice-") as tmp:
            local = Path(tmp) / "line.wav"
            local.write_bytes(clip.to_wav())
            self.store.put(local, key)


def _speed(engine: Engine) -> object:
    return getattr(engine, "words_per_minute", None)


def voice_for(narration: Narration, store: ArtifactStore) -> Voice:
    """The request's engine, with Offline as the fallback of a Gemini voice when allowed."""
    if narration.mode == GEMINI:
        gemini = GeminiSpeech(narration)
        offline = Espeak(narration)
        if not gemini.api_key:
            missing = (
                f"Gemini narration needs an API key: create Secret {GEMINI_SECRET} (key {GEMINI_SECRET_KEY}) "
                "in the request's namespace"
            )
            if not narration.fallback:
                raise EnvironmentProblem(f"{missing}, or set spec.narration.mode Offline")
            voice = Voice(store, offline, notes=[f"{missing}; spoken Offline instead"])
            print(f"narration: {voice.notes[0]}", file=sys.stderr)
            return voice
        return Voice(store, gemini, offline if narration.fallback else None)
    if narration.mode == OFFLINE:
        return Voice(store, Espeak(narration))
    raise EnvironmentProblem(f"narration mode {narration.mode!r} speaks nothing")
