/**
 * `provider:model` ids to AI SDK language models, with keys and base URLs from the providers'
 * usual environment variables. `checkModel` says what is missing before a run starts, so a
 * ticket fails at once with the variable to set rather than on its first model call.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createXai } from '@ai-sdk/xai';
import { createProviderRegistry, type LanguageModel } from 'ai';
import { InvalidInputError } from '../errors/mags-error.ts';

export type ModelEnvironment = Readonly<Record<string, string | undefined>>;

interface ModelProvider {
  /** The variable holding the key; none for local servers that need no key. */
  keyVariable?: string;
  /** The variable holding the base URL (without it: the package's own default, or `defaultBaseUrl`). */
  baseUrlVariable: string;
  defaultBaseUrl?: string;
  /** A generic server has no default address: the variable must be set. */
  baseUrlRequired?: boolean;
  /** What the key or URL is for, for the error's hint. */
  describe: string;
  create(settings: {
    apiKey?: string;
    baseURL?: string;
  }): Parameters<typeof createProviderRegistry>[0][string];
}

/** A local OpenAI-compatible server (Ollama, LM Studio, vLLM, llama.cpp): Chat Completions. */
function compatible(name: string) {
  return (settings: { apiKey?: string; baseURL?: string }) =>
    createOpenAICompatible({
      name,
      baseURL: settings.baseURL ?? '',
      ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
      // Token counts in the stream (stream_options.include_usage), for the ticket's budget.
      includeUsage: true,
    });
}

export const modelProviders: Readonly<Record<string, ModelProvider>> = {
  anthropic: {
    keyVariable: 'ANTHROPIC_API_KEY',
    baseUrlVariable: 'ANTHROPIC_BASE_URL',
    describe: 'an Anthropic API key (console.anthropic.com)',
    create: (settings) => createAnthropic(settings),
  },
  openai: {
    keyVariable: 'OPENAI_API_KEY',
    baseUrlVariable: 'OPENAI_BASE_URL',
    describe: 'an OpenAI API key (platform.openai.com)',
    create: (settings) => createOpenAI(settings),
  },
  xai: {
    keyVariable: 'XAI_API_KEY',
    baseUrlVariable: 'XAI_BASE_URL',
    describe: 'an xAI API key (console.x.ai)',
    create: (settings) => createXai(settings),
  },
  ollama: {
    baseUrlVariable: 'OLLAMA_BASE_URL',
    defaultBaseUrl: 'http://127.0.0.1:11434/v1',
    describe: 'a running Ollama server',
    create: compatible('ollama'),
  },
  lmstudio: {
    baseUrlVariable: 'LMSTUDIO_BASE_URL',
    defaultBaseUrl: 'http://127.0.0.1:1234/v1',
    describe: 'a running LM Studio server',
    create: compatible('lmstudio'),
  },
  'openai-compatible': {
    baseUrlVariable: 'MAGS_OPENAI_COMPATIBLE_BASE_URL',
    baseUrlRequired: true,
    describe:
      'the URL of an OpenAI-compatible server (vLLM, llama.cpp, ...), e.g. http://host:8000/v1',
    create: compatible('openai-compatible'),
  },
};

/** For a local OpenAI-compatible server that wants a key (vLLM's --api-key). */
const compatibleKeyVariable = 'MAGS_OPENAI_COMPATIBLE_API_KEY';

/** Splits `provider:model` at the first colon (model names may hold more: `ollama:qwen3:8b`). */
export function parseModelId(id: string): { provider: string; model: string } {
  const colon = id.indexOf(':');
  if (colon <= 0 || colon === id.length - 1) {
    throw new InvalidInputError(`"${id}" is not a model id.`, {
      code: 'invalid_model',
      hint: `Model ids are provider:model, e.g. anthropic:claude-sonnet-4-5; providers: ${Object.keys(modelProviders).join(', ')}.`,
    });
  }
  return { provider: id.slice(0, colon), model: id.slice(colon + 1) };
}

function providerOf(id: string): { name: string; provider: ModelProvider; model: string } {
  const { provider: name, model } = parseModelId(id);
  const provider = Object.hasOwn(modelProviders, name) ? modelProviders[name] : undefined;
  if (!provider) {
    throw new InvalidInputError(`Unknown model provider "${name}" in "${id}".`, {
      code: 'unknown_model_provider',
      hint: `Known providers: ${Object.keys(modelProviders).join(', ')} (ids are provider:model).`,
    });
  }
  return { name, provider, model };
}

/**
 * Throws when `id` names no known provider (InvalidInputError listing them): what a project's
 * default model is checked for when stored, since its key may be set only later.
 */
export function checkModelProvider(id: string): void {
  providerOf(id);
}

/**
 * Throws when `id` cannot be used with `env`: an unknown provider (InvalidInputError listing the
 * known ones) or a missing key or base URL (InvalidInputError naming the variable: a 400 that
 * trying again does not fix, with a hint the owner sees). Does no I/O: whether the key is valid
 * shows on the first call.
 */
export function checkModel(
  id: string,
  env: ModelEnvironment = process.env,
  /** Where the variable is to be set, for the hint: a server's, or a command's own. */
  where = "the server's environment",
): void {
  const { name, provider } = providerOf(id);
  const others = Object.entries(modelProviders)
    .filter(([other]) => other !== name)
    .map(
      ([other, { keyVariable, baseUrlVariable }]) => `${other} (${keyVariable ?? baseUrlVariable})`,
    )
    .join(', ');
  if (provider.keyVariable && !env[provider.keyVariable]) {
    throw new InvalidInputError(
      `The model ${id} needs ${provider.describe} in ${provider.keyVariable}, which is not set.`,
      {
        code: 'model_key_missing',
        hint: `Set ${provider.keyVariable} in ${where}, or choose a model of another provider: ${others}.`,
      },
    );
  }
  if (provider.baseUrlRequired && !env[provider.baseUrlVariable]) {
    throw new InvalidInputError(
      `The model ${id} needs ${provider.describe} in ${provider.baseUrlVariable}, which is not set.`,
      {
        code: 'model_base_url_missing',
        hint: `Set ${provider.baseUrlVariable} in ${where} (and ${compatibleKeyVariable} if the model's server wants a key), or choose a model of another provider: ${others}.`,
      },
    );
  }
}

/**
 * What to check when a model's server gave no answer at all (connection refused, DNS): for a
 * local server (Ollama, LM Studio, a compatible one) or a base URL set by a variable, where it was
 * reached and the variable that moves it; undefined for a provider's own default address.
 */
export function unreachableModelHint(
  id: string,
  env: ModelEnvironment = process.env,
): string | undefined {
  const { name, provider } = providerOf(id);
  const set = env[provider.baseUrlVariable];
  const url = set || provider.defaultBaseUrl;
  if (!url) return undefined;
  return set
    ? `is ${name}'s server running at ${url} (${provider.baseUrlVariable})?`
    : `is ${name}'s server running at ${url}? (${provider.baseUrlVariable} sets another address)`;
}

/** The language model for `id` (checked first; the providers do no I/O until called). */
export function resolveModel(id: string, env: ModelEnvironment = process.env): LanguageModel {
  checkModel(id, env);
  const { name, provider } = providerOf(id);
  const apiKey = provider.keyVariable
    ? env[provider.keyVariable]
    : name === 'openai-compatible'
      ? env[compatibleKeyVariable]
      : undefined;
  const baseURL = env[provider.baseUrlVariable] || provider.defaultBaseUrl;
  const registry = createProviderRegistry({
    [name]: provider.create({
      ...(apiKey ? { apiKey } : {}),
      ...(baseURL ? { baseURL } : {}),
    }),
  });
  return registry.languageModel(id as `${string}:${string}`);
}
