# The SE block exactly as the seed tutorial wrote it, kept unchanged as the
# baseline that benchmarks/se_block_speed.py measures the package against.
# It is not part of the package and nothing imports it except that script.
import torch
import torch.nn as nn
class SEBlock(nn.Module):
    """
    Squeeze-and-Excitation Block.
    Adds channel-wise attention to a convolutional block.
    """
    def __init__(self, channels, reduction_ratio=16):
        """
        Initializes the SE Block.
        Args:
            channels (int): Number of input channels.
            reduction_ratio (int): Factor by which to reduce channels
                in the intermediate layer. Default: 16.
        """
        super(SEBlock, self).__init__()
        if channels <= reduction_ratio:
            # Avoid reducing channels to zero or negative numbers
            reduced_channels = channels // 2 if channels > 1 else 1
        else:
            reduced_channels = channels // reduction_ratio
        # Squeeze operation: Global Average Pooling
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        # Excitation operation: Two Linear layers
        self.excitation = nn.Sequential(
            nn.Linear(channels, reduced_channels, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(reduced_channels, channels, bias=False),
            nn.Sigmoid()
        )
    def forward(self, x):
        """
        Forward pass through the SE Block.
        Args:
            x (torch.Tensor): Input tensor of shape (batch, channels, height, width).
        Returns:
            torch.Tensor: Output tensor, input scaled by channel-wise attention weights.
        """
        batch_size, num_channels, _, _ = x.size()
        # Squeeze: (batch, channels, height, width) -> (batch, channels, 1, 1)
        squeezed = self.squeeze(x)
        # Reshape for Linear layers: (batch, channels, 1, 1) -> (batch, channels)
        squeezed = squeezed.view(batch_size, num_channels)
        # Excitation: (batch, channels) -> (batch, channels)
        channel_weights = self.excitation(squeezed)
        # Reshape weights for scaling: (batch, channels) -> (batch, channels, 1, 1)
        channel_weights = channel_weights.view(batch_size, num_channels, 1, 1)
        # Scale: Multiply original input by the learned channel weights
        scaled_output = x * channel_weights
        return scaled_output
