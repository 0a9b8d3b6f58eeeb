"""Every function bundle under the Lambda runtime interface emulator, on the test servers."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from messaging_core.auth import mint_token
from messaging_core.config import Settings
from messaging_core.ids import new_id
from pymongo import MongoClient
from rie_harness import Function, free_port, prepare, sandbox, start_all

from tests import servers
from tests.conftest import make_settings

S3_KEY = "test-only"  # moto accepts any credentials


@dataclass(frozen=True)
class Person:
    id: str
    token: str


@dataclass
class Deployed:
    fns: dict[str, Function]
    settings: Settings
    build: Path
    bucket: str
    db_name: str
    topic_prefix: str
    patient: Person
    doctor: Person

    def __getitem__(self, name: str) -> Function:
        return self.fns[name]


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    build = prepare()
    root = sandbox(build, tmp_path_factory.mktemp("lambda-sandbox"))
    logs = tmp_path_factory.mktemp("lambda-logs")
    run = uuid.uuid4().hex[:10]
    bucket, db_name, prefix = f"rie-{run}", f"rie_{run}", f"rie{run}."
    settings = make_settings(aws_s3_bucket=bucket, kafka_topic_prefix=prefix)
    mongo_uri, s3 = servers.mongodb_uri(), servers.s3_endpoint()
    boto3.client(
        "s3",
        endpoint_url=s3,
        region_name=settings.aws_region,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_KEY,
    ).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region}
    )
    app_env = {
        "ENVIRONMENT": "test",
        "JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "MONGODB_URI": mongo_uri,
        "MONGODB_DB": db_name,
        "REDIS_URL": servers.redis_url(),
        "KAFKA_BROKER": servers.kafka_broker(),
        "KAFKA_TOPIC_PREFIX": prefix,
        "KAFKA_SEND_TIMEOUT_SECONDS": "2",
        "OUTBOX_RELAY_AGE_SECONDS": "0",
        "AWS_S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3,
        "AWS_REGION": settings.aws_region,
        "AWS_DEFAULT_REGION": settings.aws_region,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_KEY,
        "POWERTOOLS_SERVICE_NAME": "messaging",
        "POWERTOOLS_METRICS_NAMESPACE": "ESanteMessaging",
        "LOG_LEVEL": "WARNING",
    }
    # The messages function sees Kafka down (nothing listens on that port): its events stay in
    # the outbox, and the relay function, which reaches the broker, must drain them.
    overrides = {"messages": {"KAFKA_BROKER": f"127.0.0.1:{free_port()}"}}
    fns = start_all(root, app_env, logs, overrides)
    patient, doctor = new_id(), new_id()
    try:
        yield Deployed(
            fns=fns,
            settings=settings,
            build=build,
            bucket=bucket,
            db_name=db_name,
            topic_prefix=prefix,
            patient=Person(patient, mint_token(settings, patient, "patient", "Pat")),
            doctor=Person(doctor, mint_token(settings, doctor, "doctor", "Dr. Doc")),
        )
    finally:
        for fn in fns.values():
            fn.stop()
        client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
        try:
            client.drop_database(db_name)
        finally:
            client.close()
