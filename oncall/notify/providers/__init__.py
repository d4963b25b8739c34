"""Notification providers: one small class per service, each `send(address, notice)`."""

from oncall.notify.providers.base import DeliveryResult, Provider

__all__ = ["DeliveryResult", "Provider"]
