"""Events tier: MSK Serverless with IAM auth (always TLS), and producer grants scoped to topics."""

from aws_cdk import Aws, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_msk as msk
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra import constants as c
from infra.nag import suppress

# The singleton function that AwsCustomResource adds to the stack (fixed id in aws-cdk-lib).
AWS_CUSTOM_RESOURCE_SINGLETON = "AWS679f53fac002430cb0da5b7982bd2287"


class EventBus(Construct):
    """Exposes `bootstrap` (SASL/IAM brokers), `security_group`, `port`, `grant_produce`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        bootstrap_override: str | None,
        topic_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.port = c.KAFKA_IAM_PORT
        broker_sg = ec2.SecurityGroup(
            self, "BrokerSg", vpc=vpc, description="MSK Serverless", allow_all_outbound=False
        )
        # Clients are admitted from the compute stack (see Database).
        self.security_group = broker_sg

        self.cluster = msk.CfnServerlessCluster(
            self,
            "Cluster",
            cluster_name=c.MSK_CLUSTER_NAME,
            # IAM is the only client authentication; MSK Serverless serves it on TLS (9098)
            # only, so every byte in transit is encrypted.
            client_authentication=msk.CfnServerlessCluster.ClientAuthenticationProperty(
                sasl=msk.CfnServerlessCluster.SaslProperty(
                    iam=msk.CfnServerlessCluster.IamProperty(enabled=True)
                )
            ),
            vpc_configs=[
                msk.CfnServerlessCluster.VpcConfigProperty(
                    subnet_ids=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
                    security_groups=[broker_sg.security_group_id],
                )
            ],
        )
        self.cluster_arn = self.cluster.attr_arn
        # arn:...:cluster/<name>/<uuid>  ->  arn:...:topic/<name>/<uuid>/<topic>
        cluster_uuid = Fn.select(2, Fn.split("/", self.cluster_arn))
        self.topic_arn = (
            f"arn:{Aws.PARTITION}:kafka:{Aws.REGION}:{Aws.ACCOUNT_ID}:topic/"
            f"{c.MSK_CLUSTER_NAME}/{cluster_uuid}/{topic_prefix}{c.KAFKA_TOPIC_FAMILY}*"
        )
        # The access records go out on their own topic (messaging_core/audit.py).
        self.audit_topic_arn = (
            f"arn:{Aws.PARTITION}:kafka:{Aws.REGION}:{Aws.ACCOUNT_ID}:topic/"
            f"{c.MSK_CLUSTER_NAME}/{cluster_uuid}/{topic_prefix}{c.KAFKA_AUDIT_TOPIC}"
        )

        if bootstrap_override:
            self.bootstrap = bootstrap_override
        else:
            # CloudFormation exposes no bootstrap string for MSK Serverless: ask the API once
            # at deploy time (GetBootstrapBrokers, scoped to this cluster).
            lookup = cr.AwsCustomResource(
                self,
                "Bootstrap",
                on_update=cr.AwsSdkCall(
                    service="Kafka",
                    action="getBootstrapBrokers",
                    parameters={"ClusterArn": self.cluster_arn},
                    physical_resource_id=cr.PhysicalResourceId.of(f"{c.MSK_CLUSTER_NAME}-brokers"),
                    output_paths=["BootstrapBrokerStringSaslIam"],
                ),
                policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[self.cluster_arn]),
                install_latest_aws_sdk=False,
            )
            self.bootstrap = lookup.get_response_field("BootstrapBrokerStringSaslIam")
            self._suppress_lookup_function(Stack.of(self))

    def grant_produce(self, grantee: iam.IGrantable, *, owner: Construct) -> None:
        """Connect to this cluster and write to (and create) the service's topics, nothing more."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "kafka-cluster:Connect",
                "kafka-cluster:DescribeCluster",
                "kafka-cluster:WriteDataIdempotently",
            ],
            resource_arns=[self.cluster_arn],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "kafka-cluster:DescribeTopic",
                "kafka-cluster:CreateTopic",
                "kafka-cluster:WriteData",
            ],
            resource_arns=[self.topic_arn, self.audit_topic_arn],
        )
        suppress(
            owner,
            [
                (
                    "AwsSolutions-IAM5",
                    "Topics are named <KAFKA_TOPIC_PREFIX><event type> (message.sent, ...): the "
                    "grant covers [prefix]message.* and [prefix]audit.access on this one "
                    "cluster, not other topics.",
                    [r"/^Resource::arn:<AWS::Partition>:kafka:.*:topic\/.*$/"],
                )
            ],
        )

    @staticmethod
    def _suppress_lookup_function(stack: Stack) -> None:
        singleton = stack.node.try_find_child(AWS_CUSTOM_RESOURCE_SINGLETON)
        if singleton is None:
            return
        reason_deploy_only = (
            "aws-cdk-lib's AwsCustomResource provider: runs once per deployment to read the "
            "MSK bootstrap string, outside the VPC and the request path; its code and runtime "
            "are managed by aws-cdk-lib."
        )
        suppress(
            singleton,
            [
                ("AwsSolutions-IAM4", reason_deploy_only),
                ("AwsSolutions-L1", reason_deploy_only),
                ("HIPAA.Security-LambdaConcurrency", reason_deploy_only),
                ("HIPAA.Security-LambdaDLQ", reason_deploy_only),
                ("HIPAA.Security-LambdaInsideVPC", reason_deploy_only),
            ],
        )
