"""reid-data: dataset layouts, the user's own folder, samplers and transforms for re-ID.

The synthetic generator lives in :mod:`reid_data.synth` (imported on demand).
"""

from reid_data._version import __version__ as __version__
from reid_data.base import DatasetLayoutError as DatasetLayoutError
from reid_data.base import Layout as Layout
from reid_data.base import ReidDataset as ReidDataset
from reid_data.base import Sample as Sample
from reid_data.base import relabel as relabel
from reid_data.base import split_stats as split_stats
from reid_data.datasets import MSMT17 as MSMT17
from reid_data.datasets import SYSUMM01 as SYSUMM01
from reid_data.datasets import DukeMTMC as DukeMTMC
from reid_data.datasets import DukeMTMCreID as DukeMTMCreID
from reid_data.datasets import FolderDataset as FolderDataset
from reid_data.datasets import Market1501 as Market1501
from reid_data.datasets import MarketStyleDataset as MarketStyleDataset
from reid_data.datasets import PersonX as PersonX
from reid_data.datasets import RegDB as RegDB
from reid_data.datasets import VeRi776 as VeRi776
from reid_data.datasets import VisDA2020 as VisDA2020
from reid_data.datasets import sysu_gallery as sysu_gallery
from reid_data.imagedata import ImageDataset as ImageDataset
from reid_data.imagedata import UnreadableImageError as UnreadableImageError
from reid_data.imagedata import read_image as read_image
from reid_data.loaders import IterLoader as IterLoader
from reid_data.loaders import JointIterLoader as JointIterLoader
from reid_data.loaders import concat_batches as concat_batches
from reid_data.registry import create_dataset as create_dataset
from reid_data.registry import dataset_registry as dataset_registry
from reid_data.registry import list_datasets as list_datasets
from reid_data.samplers import IdentityBatchSampler as IdentityBatchSampler
from reid_data.samplers import PairedModalityBatchSampler as PairedModalityBatchSampler
from reid_data.samplers import RandomBatchSampler as RandomBatchSampler
from reid_data.samplers import distributed_info as distributed_info
from reid_data.transforms import IMAGENET_MEAN as IMAGENET_MEAN
from reid_data.transforms import IMAGENET_STD as IMAGENET_STD
from reid_data.transforms import DecayingAutoAugment as DecayingAutoAugment
from reid_data.transforms import MultiView as MultiView
from reid_data.transforms import RandomErasing as RandomErasing
from reid_data.transforms import build_test_transform as build_test_transform
from reid_data.transforms import build_train_transform as build_train_transform
