"""vpclab: AWS VPC endpoints made real with Linux network namespaces."""

__version__ = "0.1.0"
