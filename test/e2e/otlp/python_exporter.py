"""Sends N log records through the OpenTelemetry Python SDK's OTLP/HTTP (protobuf) exporter.

Usage: python_exporter.py URL N   (one export of N records: they arrive in order)
Needs: pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
"""
import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

url, n = sys.argv[1], int(sys.argv[2])
provider = LoggerProvider(resource=Resource.create({"service.name": "pyapp"}))
provider.add_log_record_processor(
    BatchLogRecordProcessor(OTLPLogExporter(endpoint=url), max_export_batch_size=n, max_queue_size=n, schedule_delay_millis=60_000)
)
log = logging.getLogger("pyapp")
log.setLevel(logging.INFO)
log.propagate = False
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
for i in range(n):
    log.warning("py record %d", i)
provider.force_flush()
provider.shutdown()
