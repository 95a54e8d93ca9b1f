"""Local stand-ins for S3 and Veryfi, started by `orbit up`/`orbit demo` and the tests when the
environment names no real ones. They live in the starting process; every Dagster process it
launches reaches them over HTTP through the exported variables."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

    from orbit_pipelines.local.transcription_emulator import TranscriptionEmulator
    from orbit_pipelines.local.veryfi_emulator import VeryfiEmulator

log = logging.getLogger(__name__)

LOCAL_AWS_REGION = "us-east-1"


@dataclass
class LocalServices:
    variables: dict[str, str] = field(default_factory=dict)
    _s3: ThreadedMotoServer | None = None
    _veryfi: VeryfiEmulator | None = None
    _transcription: TranscriptionEmulator | None = None

    @property
    def veryfi(self):
        """The Veryfi emulator when it is the one in use (tests steer its faults), else None."""
        return self._veryfi

    def describe(self) -> list[str]:
        lines = []
        if self._s3 is not None:
            lines.append(f"S3: local S3-compatible server (moto) at {self.variables['ORBIT_S3_ENDPOINT_URL']}")
        if self._veryfi is not None:
            lines.append(f"Veryfi: local EMULATOR at {self.variables['VERYFI_BASE_URL']} (not the real API)")
        if self._transcription is not None:
            lines.append(
                f"speech-to-text API: local EMULATOR at {self.variables['ORBIT_VOICE_API_BASE_URL']} "
                "(voice engine api; the default engine, offline, needs none)"
            )
        return lines

    def stop(self) -> None:
        if self._transcription is not None:
            self._transcription.stop()
            self._transcription = None
        if self._veryfi is not None:
            self._veryfi.stop()
            self._veryfi = None
        if self._s3 is not None:
            self._s3.stop()
            self._s3 = None


def needs_local_s3(env=os.environ) -> bool:
    return not env.get("ORBIT_S3_ENDPOINT_URL") and not env.get("AWS_ACCESS_KEY_ID") and not env.get("AWS_PROFILE")


def needs_veryfi_emulator(env=os.environ) -> bool:
    return not env.get("VERYFI_CLIENT_ID")


def needs_transcription_emulator(env=os.environ) -> bool:
    return not env.get("ORBIT_VOICE_API_BASE_URL")


def start_local_services(*, s3: bool, veryfi: bool, transcription: bool = False) -> LocalServices:
    services = LocalServices()
    if s3:
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request of the local S3 server; the runs' own logs say what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        services._s3 = server
        services.variables.update(
            ORBIT_S3_ENDPOINT_URL=f"http://{host}:{port}",
            # Any credentials work for the local server; boto3 refuses to sign without some.
            AWS_ACCESS_KEY_ID="orbit-local",
            AWS_SECRET_ACCESS_KEY="orbit-local",
            AWS_REGION=LOCAL_AWS_REGION,
        )
    if veryfi:
        from orbit_pipelines.local.veryfi_emulator import VeryfiEmulator

        emulator = VeryfiEmulator(client_id="orbit-local-client", username="orbit-local", api_key=secrets.token_hex(16))
        emulator.start()
        services._veryfi = emulator
        services.variables.update(
            VERYFI_BASE_URL=emulator.base_url,
            VERYFI_CLIENT_ID=emulator.client_id,
            VERYFI_USERNAME=emulator.username,
            VERYFI_API_KEY=emulator.api_key,
        )
    if transcription:
        from orbit_pipelines.local.transcription_emulator import TranscriptionEmulator

        speech = TranscriptionEmulator(api_key=secrets.token_hex(16)).start()
        services._transcription = speech
        services.variables.update(ORBIT_VOICE_API_BASE_URL=speech.base_url, ORBIT_VOICE_API_KEY=speech.api_key)
    return services
