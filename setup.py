"""vpclab: AWS VPC endpoints made real with Linux namespaces. Dependencies: docs/dependencies.md."""

from setuptools import find_packages, setup

setup(
    name="vpclab",
    version="0.1.0",
    description="A packet-level lab for AWS VPC endpoints, built from Linux network namespaces",
    python_requires=">=3.11",
    packages=find_packages(include=["lab", "lab.*"]),
    package_data={
        "lab": ["data/*.yaml", "data/demo/*.yaml", "data/policies/*.json"],
        "lab.report": ["templates/*.j2", "templates/*.css"],
    },
    install_requires=[
        "ruamel.yaml>=0.18",
        "scapy>=2.6",
        "pyroute2>=0.9",
        "dpkt>=1.9.8",
        "moto[s3,dynamodb,sqs,sts,secretsmanager,kms]>=5.2",
        "flask>=3",
        "flask-cors>=5",
        "boto3>=1.40",
        "awscli>=1.40",
        "trustme>=1.2",
        "cryptography>=42",
        "dnslib>=0.9.24",
        "graphviz>=0.20",
        "jinja2>=3.1",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "ruff>=0.15",
            "mypy>=1.15",
            "jsonschema>=4.20",
            "xmlschema>=3.0",
            "playwright>=1.50",
            "pexpect>=4.9",
        ]
    },
    entry_points={"console_scripts": ["vpclab = lab.cli.main:entry_point"]},
)
