"""Deployment helpers: ECR promotion by digest."""
