import { createKeys, type Keys } from '../adapters/keys.js';
import { openRedis, type RedisHandle } from '../adapters/redis.js';
import { configDir, loadGatewayConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { openDeployQueue, type DeployQueue } from '../deployer/queue.js';

/** What the gateway's commands share: the configuration, Redis (private or REDIS_URL), key names and the deploy queue. */
export interface GatewayContext {
  config: GatewayConfig;
  redis: RedisHandle;
  keys: Keys;
  queue: DeployQueue;
  close(): Promise<void>;
}

export async function openGatewayContext(configFlag?: string): Promise<GatewayContext> {
  const config = await loadGatewayConfig(configDir(configFlag));
  const redis = await openRedis({ stateDir: config.gateway.stateDir });
  const keys = createKeys(process.env.MAGRATHEA_REDIS_PREFIX || undefined);
  try {
    const queue = await openDeployQueue({ redis, keys });
    return {
      config,
      redis,
      keys,
      queue,
      async close() {
        await queue.close();
        await redis.stop();
      },
    };
  } catch (e) {
    await redis.stop();
    throw e;
  }
}
