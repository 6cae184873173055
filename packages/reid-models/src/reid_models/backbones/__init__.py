"""Backbones: feature-map extractors registered through ``reid_register_backbones``."""

from reid_models.backbones.base import Backbone as Backbone
