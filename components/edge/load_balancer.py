"""LoadBalancer: the internet-facing ALB, its security group, listeners and access-log bucket."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

import naming

# TLS 1.3 with TLS 1.2 fallback, AWS's recommended policy for HTTPS listeners (ELB.17).
TLS13_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The ELB log-delivery service principal. AWS's access-log guide gives the policy with this
# principal and says of the older one (the per-region ELB account, for regions from before
# August 2022) that it "is still supported, but we recommend that you replace it".
ELB_LOG_DELIVERY_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"
# AWS managed WAF rule groups: OWASP-style common attacks, known bad inputs (e.g. Log4j),
# and addresses Amazon's threat intelligence flags.
WAF_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)

NOT_FOUND_ACTION = {
    "type": "fixed-response",
    "fixed_response": {
        "content_type": "text/plain",
        "message_body": "Not Found",
        "status_code": "404",
    },
}
REDIRECT_TO_HTTPS_ACTION = {
    "type": "redirect",
    "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
}


@dataclass(frozen=True, kw_only=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Public subnets, in at least two AZs."""
    ingress_cidrs: Sequence[str] = ("0.0.0.0/0",)
    certificate_arn: str | None = None
    """With a certificate: HTTPS on 443 and port 80 redirecting to it. Without: HTTP on 80."""
    domain_name: str | None = None
    """The name clients use for the ALB (and the certificate covers); `url` uses it."""
    ssl_policy: str = TLS13_SSL_POLICY
    deletion_protection: bool = False
    access_logs: bool = False
    """Write access logs to an S3 bucket this component creates."""
    access_log_retention_days: int = 365
    """Access logs older than this are deleted."""
    account_id: pulumi.Input[str] | None = None
    """The AWS account id; required with access_logs (the log path contains it)."""
    idle_timeout: int = 60
    waf: bool = False
    """Put an AWS WAF web ACL with AWS managed rule groups in front of the ALB, and log what
    it sees (without credentials) to CloudWatch Logs."""
    log_retention_days: int = 365
    log_kms_key_arn: pulumi.Input[str] | None = None
    """Encrypt the WAF log group with this customer-managed key."""
    waf_log_group_name: str | None = None
    """Defaults to `aws-waf-logs-<component name>`; log group names are per account and
    region, so the name should carry the project and stack."""
    logs_on_destroy: Literal["fail", "keep", "delete"] = "fail"
    """What destroying the stack does with the access-log bucket and the WAF log group:
    `fail` leaves a non-empty bucket in place, so the destroy stops there; `keep` leaves the
    bucket (with its settings) and the log group in the account, no longer managed; `delete`
    empties the bucket, every object version included, and deletes it."""


class LoadBalancer(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    listener_arn: pulumi.Output[str]
    """The listener that routes requests: HTTPS if a certificate is set, else HTTP."""
    url: pulumi.Output[str]
    access_log_bucket: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("microservices:load_balancer:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        https = args.certificate_arn is not None

        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{name}: public load balancer",
            tags={"Name": f"{name}-sg"},
            opts=child,
        )
        ports = (80, 443) if https else (80,)
        for cidr in args.ingress_cidrs:
            for port in ports:
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-allow-{port}-{cidr.replace('/', '-')}",
                    security_group_id=security_group.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    cidr_ipv4=cidr,
                    description=f"{'HTTPS' if port == 443 else 'HTTP'} from {cidr}",
                    opts=child,
                )

        log_bucket = self._access_log_bucket(name, args) if args.access_logs else None

        alb = aws.lb.LoadBalancer(
            naming.load_balancer(name),
            load_balancer_type="application",
            internal=False,
            security_groups=[security_group.id],
            subnets=args.subnet_ids,
            idle_timeout=args.idle_timeout,
            drop_invalid_header_fields=True,  # ELB.4
            desync_mitigation_mode="defensive",  # ELB.12
            enable_deletion_protection=args.deletion_protection,  # ELB.6
            access_logs=(
                {"bucket": log_bucket[0].bucket, "enabled": True}
                if log_bucket is not None
                else None
            ),
            # ELB checks that it can write to the bucket when access logs are turned on.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[log_bucket[1]] if log_bucket is not None else []
            ),
        )

        if args.waf:
            self._web_acl(name, alb, args)

        # One port-80 listener whatever the protocol: its default action changes in place when
        # a certificate is set or removed. Two resources would make Pulumi create the second
        # before deleting the first, and ELBv2 refuses a second listener on a port.
        http_listener = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[REDIRECT_TO_HTTPS_ACTION if https else NOT_FOUND_ACTION],
            opts=child,
        )
        main_listener = http_listener
        if https:
            main_listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=args.ssl_policy,
                certificate_arn=args.certificate_arn,
                default_actions=[NOT_FOUND_ACTION],
                opts=child,
            )

        self.arn = alb.arn
        self.arn_suffix = alb.arn_suffix
        self.dns_name = alb.dns_name
        self.zone_id = alb.zone_id
        self.security_group_id = security_group.id
        self.listener_arn = main_listener.arn
        self.url = pulumi.Output.format(
            "{0}://{1}", "https" if https else "http", args.domain_name or alb.dns_name
        )
        self.access_log_bucket = log_bucket[0].bucket if log_bucket is not None else None
        self.register_outputs(
            {
                "arn": self.arn,
                "dnsName": self.dns_name,
                "securityGroupId": self.security_group_id,
                "listenerArn": self.listener_arn,
                "url": self.url,
            }
        )

    def _web_acl(self, name: str, alb: aws.lb.LoadBalancer, args: LoadBalancerArgs) -> None:
        delete_first = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        def visibility(metric: str) -> dict[str, object]:
            return {
                "cloudwatch_metrics_enabled": True,
                "metric_name": metric,
                "sampled_requests_enabled": True,
            }

        acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            scope="REGIONAL",
            default_action={"allow": {}},
            visibility_config=visibility(f"{name}-waf"),
            # The rules are separate resources, as the provider recommends.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["rules"]),
        )
        for priority, group in enumerate(WAF_MANAGED_RULE_GROUPS, start=1):
            aws.wafv2.WebAclRule(
                f"{name}-waf-{group}",
                web_acl_arn=acl.arn,
                name=group,
                priority=priority,
                override_action={"none": {}},
                statement={"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
                visibility_config=visibility(group),
                # A rule's priority is unique in its ACL, so a replacement deletes first.
                opts=delete_first,
            )
        # One association per load balancer and one logging configuration per ACL: created
        # first, a replacement would be undone when the old one is deleted after it.
        aws.wafv2.WebAclAssociation(
            f"{name}-waf-association",
            resource_arn=alb.arn,
            web_acl_arn=acl.arn,
            opts=delete_first,
        )
        # WAF writes only to destinations whose names start with `aws-waf-logs-`.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=args.waf_log_group_name or f"aws-waf-logs-{name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            # A fixed name: the old group must go before a replacement can take it.
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                retain_on_delete=args.logs_on_destroy == "keep",
            ),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=acl.arn,
            log_destination_configs=[log_group.arn],
            # Credentials stay out of the logs.
            redacted_fields=[
                {"single_header": {"name": "authorization"}},
                {"single_header": {"name": "cookie"}},
            ],
            opts=delete_first,
        )

    def _access_log_bucket(
        self, name: str, args: LoadBalancerArgs
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        """A private, encrypted bucket that only ELB log delivery may write to."""
        if args.account_id is None:
            raise ValueError("LoadBalancerArgs.account_id is required with access_logs")
        # Kept logs stay as they are: the bucket and every setting that protects it.
        keep = args.logs_on_destroy == "keep"
        bucket = aws.s3.Bucket(
            f"{name}-logs",
            # A versioned bucket holds every version of every log; only an explicit choice
            # lets a destroy delete them.
            force_destroy=args.logs_on_destroy == "delete",
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=keep),
        )

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            # S3 rejects concurrent configuration changes to one new bucket (409
            # OperationAborted), so each setting waits for the one before it.
            return pulumi.ResourceOptions(
                parent=self, depends_on=list(resources), retain_on_delete=keep
            )

        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-logs-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=after(bucket),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-logs-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=after(public_access),
        )
        # ALB access logs support only SSE-S3 on the target bucket.
        # Versions keep a deleted or overwritten log recoverable until the lifecycle expires it.
        versioning = aws.s3.BucketVersioning(
            f"{name}-logs-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=after(ownership),
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-logs-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=after(versioning),
        )
        lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {"prefix": "AWSLogs/"},
                    "expiration": {"days": args.access_log_retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 30},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=after(encryption),
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-logs-policy",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AllowElbLogDelivery",
                            "Effect": "Allow",
                            "Principal": {"Service": ELB_LOG_DELIVERY_PRINCIPAL},
                            "Action": "s3:PutObject",
                            "Resource": pulumi.Output.format(
                                "{0}/AWSLogs/{1}/*", bucket.arn, args.account_id
                            ),
                        },
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket.arn, pulumi.Output.format("{0}/*", bucket.arn)],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                }
            ),
            opts=after(lifecycle),
        )
        return bucket, policy
