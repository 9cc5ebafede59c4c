"""The webhook endpoints of the REST API, over jobs.webhooks.services like the pages."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api.common import ERROR, api_user
from jobs.models import Webhook, WebhookDelivery, WebhookEvent
from jobs.webhooks.services import (
    deliveries_for_webhook,
    webhook_create,
    webhook_delete,
    webhook_get,
    webhook_ping,
    webhook_update,
    webhooks_for_user,
)


class WebhookSerializer(serializers.ModelSerializer[Webhook]):
    class Meta:
        model = Webhook
        fields = ("id", "url", "events", "active", "secret", "created_at")
        read_only_fields = fields
        extra_kwargs = {"secret": {"help_text": "HMAC-SHA256 key for X-HeyGem-Signature."}}


class WebhookWriteSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.values),
        min_length=1,
    )
    active = serializers.BooleanField(required=False)


class WebhookUpdateSerializer(WebhookWriteSerializer):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.values),
        min_length=1,
        required=False,
    )
    rotate_secret = serializers.BooleanField(required=False, default=False)


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event",
            "event_id",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "payload",
        )
        read_only_fields = fields


class WebhookListView(generics.ListAPIView[Any]):
    serializer_class = WebhookSerializer
    throttle_scope = "create"

    def get_queryset(self) -> QuerySet[Any]:
        return webhooks_for_user(api_user(self.request))

    @extend_schema(summary="List your webhooks")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=WebhookWriteSerializer,
        responses={201: WebhookSerializer, 400: ERROR, 429: ERROR},
        summary="Register a URL for batch.completed, job.succeeded and/or job.failed",
    )
    def post(self, request: Request) -> Response:
        incoming = WebhookWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        with transaction.atomic():
            webhook = webhook_create(
                owner=api_user(request), url=data["url"], events=data["events"]
            )
            if data.get("active") is False:
                webhook_update(webhook=webhook, active=False)
        return Response(WebhookSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    @extend_schema(responses={200: WebhookSerializer, 404: ERROR}, summary="Get a webhook")
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(WebhookSerializer(webhook_get(api_user(request), webhook_id)).data)

    @extend_schema(
        request=WebhookUpdateSerializer,
        responses={200: WebhookSerializer, 400: ERROR, 404: ERROR},
        summary="Change a webhook's URL, events or active flag, or give it a new secret",
    )
    def patch(self, request: Request, webhook_id: str) -> Response:
        webhook = webhook_get(api_user(request), webhook_id)
        incoming = WebhookUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        webhook = webhook_update(
            webhook=webhook,
            url=data.get("url"),
            events=data.get("events"),
            active=data.get("active"),
            rotate_secret=data.get("rotate_secret", False),
        )
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(responses={204: None, 404: ERROR}, summary="Delete a webhook")
    def delete(self, request: Request, webhook_id: str) -> Response:
        webhook_delete(webhook=webhook_get(api_user(request), webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListView(generics.ListAPIView[Any]):
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self) -> QuerySet[Any]:
        webhook = webhook_get(api_user(self.request), self.kwargs["webhook_id"])
        return deliveries_for_webhook(webhook)

    @extend_schema(summary="A webhook's deliveries, newest first: status, attempts, last answer")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class WebhookPingView(APIView):
    throttle_scope = "create"

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer, 404: ERROR, 429: ERROR},
        summary="Send a signed test event to this webhook",
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        delivery = webhook_ping(webhook=webhook_get(api_user(request), webhook_id))
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
