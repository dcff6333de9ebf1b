"""Exports metrics and logs with the OpenTelemetry Python SDK over OTLP/HTTP
(protobuf) to a Steward server: argv = base URL, token, CA file, device id,
host name. Exits non-zero when an export fails."""

import logging
import os
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

base, token, ca, device, host = sys.argv[1:6]
# The server's own CA, for requests however the exporter passes it on.
os.environ["REQUESTS_CA_BUNDLE"] = ca
os.environ["OTEL_EXPORTER_OTLP_CERTIFICATE"] = ca
headers = {"Authorization": f"Bearer {token}"}

metrics = OTLPMetricExporter(
    endpoint=f"{base}/api/v1/otlp/v1/metrics", headers=headers, certificate_file=ca
)
reader = PeriodicExportingMetricReader(metrics, export_interval_millis=3_600_000)
meters = MeterProvider(
    resource=Resource.create({"service.name": "shop", "steward.device.id": device}),
    metric_readers=[reader],
)
meter = meters.get_meter("steward-test")
orders = meter.create_counter("shop.orders")
orders.add(3, {"region": "eu"})
orders.add(2, {"region": "eu"})
meter.create_observable_gauge(
    "shop.queue.depth", callbacks=[lambda options: [Observation(7, {"queue": "mail"})]]
)
latency = meter.create_histogram("shop.latency", unit="s")
latency.record(0.25)
latency.record(0.5)
if not reader.force_flush(timeout_millis=20_000):
    sys.exit("the metrics export failed")

# Logs name their device by host.name.
logs = LoggerProvider(resource=Resource.create({"service.name": "shop", "host.name": host}))
exporter = OTLPLogExporter(
    endpoint=f"{base}/api/v1/otlp/v1/logs", headers=headers, certificate_file=ca
)
logs.add_log_record_processor(SimpleLogRecordProcessor(exporter))
log = logging.getLogger("shop")
log.propagate = False
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logs))
log.setLevel(logging.INFO)
for line in sys.argv[6:]:
    log.error(line)
if not logs.force_flush(timeout_millis=20_000):
    sys.exit("the logs export failed")
meters.shutdown()
logs.shutdown()
