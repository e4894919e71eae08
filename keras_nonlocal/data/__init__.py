"""Video input for NL-I3D: decoding, clip sampling, transforms, tf.data.

Modules:
    decoding: PyAV video decoding, frame-image folders, HDF5 frames
        (tensorflow-io where it loads, h5py otherwise).
    sources: list files, class folders and paths as a `VideoList`.
    sampling: which frames make a clip (training and test positions).
    transforms: scale jitter, crops, flip and normalisation in TF ops.
    pipeline: `train_dataset` and `eval_dataset`.
    multiview: averaging view scores, `predict_video`.
"""

from keras_nonlocal.data.decoding import TFIO_AVAILABLE
from keras_nonlocal.data.decoding import TFIO_ERROR
from keras_nonlocal.data.decoding import DecodeStats
from keras_nonlocal.data.decoding import VideoDecodeError
from keras_nonlocal.data.decoding import clear_index_cache
from keras_nonlocal.data.decoding import frame_count
from keras_nonlocal.data.decoding import hdf5_frames_dataset
from keras_nonlocal.data.decoding import list_frame_images
from keras_nonlocal.data.decoding import read_frame_folder
from keras_nonlocal.data.decoding import read_frames
from keras_nonlocal.data.decoding import read_hdf5_frames
from keras_nonlocal.data.decoding import read_video
from keras_nonlocal.data.decoding import write_hdf5_frames
from keras_nonlocal.data.multiview import average_view_scores
from keras_nonlocal.data.multiview import evaluate_views
from keras_nonlocal.data.multiview import predict_video
from keras_nonlocal.data.pipeline import BadFileCounter
from keras_nonlocal.data.pipeline import BadVideoWarning
from keras_nonlocal.data.pipeline import TooManyBadFilesError
from keras_nonlocal.data.pipeline import eval_dataset
from keras_nonlocal.data.pipeline import reraise_pipeline_errors
from keras_nonlocal.data.pipeline import train_dataset
from keras_nonlocal.data.sampling import clip_indices
from keras_nonlocal.data.sampling import eval_clip_indices
from keras_nonlocal.data.sampling import eval_clip_starts
from keras_nonlocal.data.sampling import parse_views
from keras_nonlocal.data.sampling import train_clip_indices
from keras_nonlocal.data.sources import VideoList
from keras_nonlocal.data.sources import as_video_list
from keras_nonlocal.data.sources import from_class_folders
from keras_nonlocal.data.sources import from_list_file
from keras_nonlocal.data.sources import from_paths
from keras_nonlocal.data.sources import load_class_names
from keras_nonlocal.data.transforms import eval_crops
from keras_nonlocal.data.transforms import flip_left_right
from keras_nonlocal.data.transforms import normalize
from keras_nonlocal.data.transforms import random_crop
from keras_nonlocal.data.transforms import random_flip
from keras_nonlocal.data.transforms import random_short_side_scale
from keras_nonlocal.data.transforms import short_side_scale
from keras_nonlocal.data.transforms import spatial_crop
from keras_nonlocal.data.transforms import three_crop_offsets
from keras_nonlocal.data.transforms import train_transform
